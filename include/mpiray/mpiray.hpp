#pragma once
/// @file
/// mpiray: Ray Core's programming model (remote tasks, futures, objects) on MPI.
///
/// @code
/// #include <mpiray/mpiray.hpp>
/// int square(int x) { return x * x; }
/// MPIRAY_REMOTE(square);
/// int main(int argc, char** argv) {
///   return mpiray::run(argc, argv, [] { return mpiray::task(square).remote(7).get() == 49 ? 0 : 1; });
/// }
/// @endcode
/// Thread-safety: see each header; the API may be used from any thread while run() is active.

#include "mpiray/actor.hpp"
#include "mpiray/errors.hpp"
#include "mpiray/object_ref.hpp"
#include "mpiray/partition.hpp"
#include "mpiray/pool.hpp"
#include "mpiray/process.hpp"
#include "mpiray/remote.hpp"
#include "mpiray/runtime.hpp"
