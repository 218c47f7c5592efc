#pragma once
// Turning exceptions into the ErrorInfo that travels to the caller, and back into TaskError.

#include <memory>
#include <string>

#include "mpiray/detail/core.hpp"

namespace mpiray::detail {

std::string demangle(const char* mangled);
std::shared_ptr<const ErrorInfo> make_error_info(std::string function, int rank, std::string type,
                                                 std::string message);
/// Describes the exception being handled (call inside a catch block).
std::shared_ptr<const ErrorInfo> current_exception_info(const std::string& function, int rank);

}  // namespace mpiray::detail
