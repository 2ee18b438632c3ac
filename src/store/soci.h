// Include this instead of <soci/soci.h> (every module that writes SQL).
//
// Debian's SOCI 4.0.3 is built with SOCI_HAVE_BOOST, which makes <soci/bind-values.h> include
// Boost.Fusion headers (libboost-dev, ~140 MB) for binding Boost.Fusion sequences. We never bind
// Fusion sequences, and only that header's templates depend on the macro (no ABI effect), so
// we turn it off rather than install Boost for it.
#pragma once

#include <soci/soci-config.h>
#undef SOCI_HAVE_BOOST
#undef SOCI_HAVE_BOOST_DATE_TIME
#include <soci/soci.h>
