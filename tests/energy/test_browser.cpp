// Renders carbon.html with headless Chromium to PNG (label `browser`). Skipped, saying why, when
// Chromium is not installed (launch/setup.sh --with-browser). Checks: Chromium exits 0, the PNG is
// valid with the requested width, and it carries far more than a blank page of the same size does
// (the charts drew something); Chromium's DOM dump still holds the four charts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>

#include "report_fixture.h"
#include "test_util.h"

namespace ofa::energy {
namespace {

using testing::TempDir;

std::string chromium() {
  const char* env = std::getenv("OFA_CHROMIUM");
  return env ? env : OFA_CHROMIUM;
}

int run_chromium(const TempDir& dir, const std::string& args) {
  const std::string cmd = chromium() + " --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run "
                          "--user-data-dir=" + dir.file("profile") + " " + args + " 2>" + dir.file("chromium.log");
  return std::system(cmd.c_str());
}

// Width and height from the IHDR chunk; false if not a PNG.
bool png_size(const std::string& bytes, uint32_t* w, uint32_t* h) {
  static const std::string kSig("\x89PNG\r\n\x1a\n", 8);
  if (bytes.size() < 24 || bytes.compare(0, 8, kSig) != 0 || bytes.compare(12, 4, "IHDR") != 0) return false;
  auto be32 = [&](size_t i) {
    return uint32_t(uint8_t(bytes[i])) << 24 | uint32_t(uint8_t(bytes[i + 1])) << 16 |
           uint32_t(uint8_t(bytes[i + 2])) << 8 | uint32_t(uint8_t(bytes[i + 3]));
  };
  *w = be32(16);
  *h = be32(20);
  return true;
}

TEST(Browser, ChromiumRendersTheReport) {
  if (::access(chromium().c_str(), X_OK) != 0)
    GTEST_SKIP() << chromium() << " not found: install Chromium (launch/setup.sh --with-browser) to render carbon.html";
  TempDir dir;
  const auto run = testing::synthetic_run();
  const ReportPaths p = write_report(dir.str(), testing::synthetic_input(run));
  testing::write_file(dir.file("blank.html"), "<!DOCTYPE html><html><body></body></html>");

  const std::string size = "--window-size=1200,2400 ";
  ASSERT_EQ(run_chromium(dir, size + "--screenshot=" + dir.file("report.png") + " file://" + p.html), 0)
      << testing::read_file(dir.file("chromium.log"));
  ASSERT_EQ(run_chromium(dir, size + "--screenshot=" + dir.file("blank.png") + " file://" + dir.file("blank.html")), 0);
  const std::string png = testing::read_file(dir.file("report.png"));
  const std::string blank = testing::read_file(dir.file("blank.png"));
  uint32_t w = 0, h = 0;
  ASSERT_TRUE(png_size(png, &w, &h)) << "not a PNG (" << png.size() << " bytes)";
  EXPECT_EQ(w, 1200u);
  EXPECT_EQ(h, 2400u);
  EXPECT_GT(png.size(), 10 * blank.size()) << "report " << png.size() << " bytes, blank page " << blank.size();
  std::printf("[ browser ] %s: %zu bytes PNG (%ux%u), blank page %zu bytes\n", dir.file("report.png").c_str(),
              png.size(), w, h, blank.size());

  const std::string dom_file = dir.file("dom.html");
  ASSERT_EQ(run_chromium(dir, "--dump-dom file://" + p.html + " >" + dom_file), 0);
  const std::string dom = testing::read_file(dom_file);
  for (const char* id : {"chart-power", "chart-phases", "chart-co2e", "chart-amortization"})
    EXPECT_NE(dom.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
}

}  // namespace
}  // namespace ofa::energy
