// Anchor TU for the shared precompiled header (cmake/ofa_pch.h).
