// The progress bar of Pool.map / imap: on stderr with MPIRAY_PROGRESS=1, absent otherwise.

#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "mpi/mpi_test_support.hpp"
#include "pool/capture.hpp"

namespace {

int progress_twice(int x) { return 2 * x; }

}  // namespace

MPIRAY_REMOTE(progress_twice);

namespace {

using namespace mpiray_test;

std::vector<int> iota_vec(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

std::string map_with_progress(const char* setting) {
  ScopedEnv env("MPIRAY_PROGRESS", setting);
  StderrCapture cap;
  const std::vector<int> out = mpiray::Pool().map(progress_twice, iota_vec(5000), 100);
  EXPECT_EQ(out.size(), 5000u);
  EXPECT_EQ(out.back(), 9998);
  return cap.finish();
}

TEST(Progress, RenderShowsItemsRateAndEta) {
  const std::string s = mpiray::detail::ProgressBar::render("mpiray map(f)", 250, 1000, 0.5, false);
  EXPECT_NE(s.find("mpiray map(f):  25% |######                  |"), std::string::npos) << s;
  EXPECT_NE(s.find("250/1000 items"), std::string::npos) << s;
  EXPECT_NE(s.find("500.0 items/s"), std::string::npos) << s;
  EXPECT_NE(s.find("ETA 0:00:02"), std::string::npos) << s;
  const std::string f = mpiray::detail::ProgressBar::render("x", 2000000, 2000000, 0.4, true);
  EXPECT_NE(f.find("100% |########################|"), std::string::npos) << f;
  EXPECT_NE(f.find("5.00M items/s"), std::string::npos) << f;
  EXPECT_NE(f.find("in 0.40 s"), std::string::npos) << f;
}

TEST(Progress, ShownOnStderrWhenForced) {
  const std::string err = map_with_progress("1");
  EXPECT_NE(err.find("mpiray map(progress_twice):"), std::string::npos) << err;
  EXPECT_NE(err.find("100% |"), std::string::npos) << err;
  EXPECT_NE(err.find("5000/5000 items"), std::string::npos) << err;
  EXPECT_NE(err.find("items/s"), std::string::npos) << err;
  EXPECT_EQ(err.find('\r'), std::string::npos) << "not a terminal: whole lines only";
  EXPECT_EQ(err.back(), '\n');
}

TEST(Progress, ShownForImapToo) {
  ScopedEnv env("MPIRAY_PROGRESS", "1");
  StderrCapture cap;
  long sum = 0;
  for (int v : mpiray::Pool().imap(progress_twice, iota_vec(300), 10)) sum += v;
  for (int v : mpiray::Pool().imap_unordered(progress_twice, iota_vec(300), 10)) sum += v;
  const std::string err = cap.finish();
  EXPECT_EQ(sum, 2L * 299 * 300);
  EXPECT_NE(err.find("mpiray imap(progress_twice):"), std::string::npos) << err;
  EXPECT_NE(err.find("mpiray imap_unordered(progress_twice):"), std::string::npos) << err;
  EXPECT_NE(err.find("300/300 items"), std::string::npos) << err;
}

TEST(Progress, SilentWhenStderrIsNotATerminal) {
  EXPECT_EQ(map_with_progress(nullptr), "");
}

TEST(Progress, SilentWhenDisabled) {
  EXPECT_EQ(map_with_progress("0"), "");
}

}  // namespace
