#include "messages/job_snapshot.hpp"

namespace jobwire {

std::string_view to_string(job_status x) {
  switch (x) {
    case job_status::pending:
      return "pending";
    case job_status::running:
      return "running";
    case job_status::completed:
      return "completed";
    case job_status::failed:
      return "failed";
    case job_status::cancelled:
      return "cancelled";
  }
  return "pending";
}

} // namespace jobwire
