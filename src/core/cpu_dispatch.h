// OFA_CPU_CLONES: compile a hot function for AVX2 and for any x86-64, chosen at load time by an
// ifunc resolver (GCC's target_clones). Under ThreadSanitizer the resolver is instrumented and
// runs during relocation, before the TSan runtime exists (the binary segfaults at start), so a
// thread-sanitizer build gets the one default version.
#pragma once

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define OFA_NO_CPU_CLONES 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || !defined(__x86_64__)
#define OFA_NO_CPU_CLONES 1
#endif

#ifdef OFA_NO_CPU_CLONES
#define OFA_CPU_CLONES
#else
#define OFA_CPU_CLONES __attribute__((target_clones("avx2", "default")))
#endif
