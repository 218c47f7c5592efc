#include "runtime/error_info.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <exception>
#include <typeinfo>

#include "mpiray/errors.hpp"

namespace mpiray::detail {

std::string demangle(const char* mangled) {
  int status = 0;
  char* s = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string out = (status == 0 && s) ? s : mangled;
  std::free(s);
  return out;
}

std::shared_ptr<const ErrorInfo> make_error_info(std::string function, int rank, std::string type,
                                                 std::string message) {
  auto e = std::make_shared<ErrorInfo>();
  e->function = std::move(function);
  e->rank = rank;
  e->type = std::move(type);
  e->message = std::move(message);
  return e;
}

std::shared_ptr<const ErrorInfo> current_exception_info(const std::string& function, int rank) {
  try {
    throw;
  } catch (const TaskError& e) {
    // A nested task's failure keeps its original origin, so the root cause is what users see.
    return make_error_info(e.function(), e.rank(), e.type(), e.message());
  } catch (const std::exception& e) {
    return make_error_info(function, rank, demangle(typeid(e).name()), e.what());
  } catch (...) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    return make_error_info(function, rank, t ? demangle(t->name()) : "unknown exception",
                           "a non-standard exception was thrown");
  }
}

}  // namespace mpiray::detail
