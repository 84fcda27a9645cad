// Fuzz targets for the image codec (docs/data-format.md, "Packed image folders"): the bytes of one
// JPEG or PNG file as a pack or the loader meets them. `image` probes, decodes at full and scaled
// size and runs the training and evaluation transforms; `exif` runs our own APP1/TIFF parser on
// the bytes after a JPEG SOI. The codec's errors do not name a file (the caller adds it), so the
// oracle is only the kind: usage, data or I/O, never a crash, an internal error or another
// exception; and what succeeds must be consistent (sizes, orientation in 1..8).
#include <cstdlib>
#include <vector>

#include "data/image_augment.h"
#include "data/image_codec.h"
#include "fuzz/fuzz.h"

// Decoding cost grows with the pixel count a header claims, not with the input: above this the
// target stops after the probe (the probe itself still runs on every input).
constexpr int64_t kDecodeLimit = int64_t(4) << 20;

OFA_FUZZ_TARGET(image) {
  ofa::fuzz::expect_clean("image", "", [&] {
    const int o = ofa::data::exif_orientation(data, size);
    if (o < 1 || o > 8) std::abort();
    ofa::data::ImageCodec codec;
    const ofa::data::ImageInfo info = codec.probe(data, size);
    if (info.width <= 0 || info.height <= 0) std::abort();
    if (int64_t(info.width) * info.height > kDecodeLimit) return;
    ofa::data::Image img;
    codec.decode(data, size, img);
    if (img.width != info.width || img.height != info.height ||
        img.rgb.size() != size_t(img.width) * size_t(img.height) * 3)
      std::abort();
    codec.decode(data, size, img, info.width / 3, info.height / 5);  // a DCT-scaled decode
    if (img.width < info.width / 3 || img.height < info.height / 5) std::abort();
    ofa::data::Augmenter aug;
    const int res = 1 + (size > 0 ? data[size - 1] % 48 : 0);
    std::vector<float> out(size_t(3) * res * res);
    aug.train(data, size, res, {7, 1, size}, out.data());
    aug.eval(data, size, res, out.data());
  });
}

OFA_FUZZ_TARGET(exif) {
  std::vector<uint8_t> jpeg = {0xff, 0xd8};
  jpeg.insert(jpeg.end(), data, data + size);
  const int o = ofa::data::exif_orientation(jpeg.data(), jpeg.size());
  if (o < 1 || o > 8) std::abort();
}
