#pragma once
// Shared by the transport's source files (the only ones that include <mpi.h>): turning an MPI
// error code into a RuntimeError, and the opaque communicator handle back into an MPI_Comm.

#include <mpi.h>

#include <string>

#include "mpiray/errors.hpp"

namespace mpiray::detail {

inline void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw RuntimeError(std::string("mpiray: ") + what + " failed: " + std::string(msg, len));
}

inline MPI_Comm& as_comm(void* p) {
  return *static_cast<MPI_Comm*>(p);
}

}  // namespace mpiray::detail
