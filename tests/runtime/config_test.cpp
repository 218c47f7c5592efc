// runtime/config.hpp: thread-count precedence, option validation, wrong-launcher detection.

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "mpiray/errors.hpp"
#include "runtime/config.hpp"

namespace {

using mpiray::ConfigError;
using mpiray::detail::check_launch;
using mpiray::detail::choose_threads;
using mpiray::detail::EnvLookup;

// A fake environment: only the given variables exist.
EnvLookup fake_env(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

// argv storage for choose_threads: argv[0] is the program name.
class Args {
 public:
  Args(std::initializer_list<std::string> args) : storage_{"prog"} {
    storage_.insert(storage_.end(), args);
    for (auto& s : storage_) ptrs_.push_back(s.data());
    ptrs_.push_back(nullptr);
  }
  Args(const Args&) = delete;  // argv points into this object's strings
  Args& operator=(const Args&) = delete;
  int argc() const { return static_cast<int>(storage_.size()); }
  char** argv() { return ptrs_.data(); }

 private:
  std::vector<std::string> storage_;
  std::vector<char*> ptrs_;
};

const std::map<std::string, std::string> kAllSources = {{"MPIRAY_THREADS", "5"},
                                                       {"SLURM_CPUS_PER_TASK", "7"}};

TEST(ChooseThreads, CommandLineFlagWinsOverEverything) {
  Args a{"--mpiray-threads", "3"};
  auto c = choose_threads(a.argc(), a.argv(), fake_env(kAllSources), 64, 2);
  EXPECT_EQ(c.threads, 3);
  EXPECT_EQ(c.source, "--mpiray-threads");

  Args eq{"--other", "--mpiray-threads=9"};
  EXPECT_EQ(choose_threads(eq.argc(), eq.argv(), fake_env(kAllSources), 64, 2).threads, 9);
}

TEST(ChooseThreads, EnvironmentVariableWinsOverSlurmAndCores) {
  Args a{};
  auto c = choose_threads(a.argc(), a.argv(), fake_env(kAllSources), 64, 2);
  EXPECT_EQ(c.threads, 5);
  EXPECT_EQ(c.source, "MPIRAY_THREADS");
}

TEST(ChooseThreads, SlurmCpusPerTaskWinsOverCores) {
  Args a{};
  auto c = choose_threads(a.argc(), a.argv(), fake_env({{"SLURM_CPUS_PER_TASK", "7"}}), 64, 2);
  EXPECT_EQ(c.threads, 7);
  EXPECT_EQ(c.source, "SLURM_CPUS_PER_TASK");
}

TEST(ChooseThreads, EmptyVariablesAreIgnored) {
  Args a{};
  auto c = choose_threads(a.argc(), a.argv(),
                          fake_env({{"MPIRAY_THREADS", ""}, {"SLURM_CPUS_PER_TASK", ""}}), 8, 2);
  EXPECT_EQ(c.threads, 4);
}

TEST(ChooseThreads, DefaultIsCoresPerLocalRankAtLeastOne) {
  Args a{};
  const auto env = fake_env({});
  EXPECT_EQ(choose_threads(a.argc(), a.argv(), env, 8, 2).threads, 4);
  EXPECT_EQ(choose_threads(a.argc(), a.argv(), env, 8, 3).threads, 2);
  EXPECT_EQ(choose_threads(a.argc(), a.argv(), env, 2, 4).threads, 1) << "oversubscribed";
  EXPECT_EQ(choose_threads(a.argc(), a.argv(), env, 6, 0).threads, 6) << "no local-rank info";
  EXPECT_EQ(choose_threads(a.argc(), a.argv(), env, 0, 1).threads, 1);
  EXPECT_FALSE(choose_threads(a.argc(), a.argv(), env, 8, 2).source.empty());
}

// Expects ConfigError whose message names `option` and quotes `value`.
void expect_config_error(Args&& a, const EnvLookup& env, const std::string& option,
                         const std::string& value) {
  try {
    choose_threads(a.argc(), a.argv(), env, 4, 1);
    ADD_FAILURE() << option << "=" << value << " was accepted";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(option), std::string::npos) << msg;
    EXPECT_NE(msg.find("'" + value + "'"), std::string::npos) << msg;
  }
}

TEST(ChooseThreads, BadFlagValuesThrowConfigErrorNamingTheOption) {
  for (const char* bad : {"0", "abc", "-3", "4x", "", "5000", "99999999999999999999"}) {
    SCOPED_TRACE(bad);
    expect_config_error(Args{"--mpiray-threads", bad}, fake_env({}), "--mpiray-threads", bad);
    expect_config_error(Args{std::string("--mpiray-threads=") + bad}, fake_env({}),
                        "--mpiray-threads", bad);
  }
}

TEST(ChooseThreads, FlagWithoutAValueThrowsConfigError) {
  Args a{"--mpiray-threads"};
  try {
    choose_threads(a.argc(), a.argv(), fake_env({}), 4, 1);
    FAIL() << "accepted a missing value";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--mpiray-threads"), std::string::npos) << e.what();
  }
}

TEST(ChooseThreads, BadEnvironmentValuesThrowConfigErrorNamingTheVariable) {
  for (const char* bad : {"0", "abc", "-3"}) {
    SCOPED_TRACE(bad);
    expect_config_error(Args{}, fake_env({{"MPIRAY_THREADS", bad}}), "MPIRAY_THREADS", bad);
    expect_config_error(Args{}, fake_env({{"SLURM_CPUS_PER_TASK", bad}}), "SLURM_CPUS_PER_TASK",
                        bad);
  }
}

TEST(ChooseThreads, AValidFlagOverridesABadEnvironment) {
  Args a{"--mpiray-threads", "2"};
  EXPECT_EQ(choose_threads(a.argc(), a.argv(), fake_env({{"MPIRAY_THREADS", "abc"}}), 4, 1).threads,
            2);
}

TEST(CheckLaunch, SrunWithTheWrongPmiIsDetectedAndNamesTheFix) {
  const auto env =
      fake_env({{"SLURM_STEP_NUM_TASKS", "4"}, {"SLURM_NTASKS", "4"}, {"SLURM_PROCID", "0"}});
  const std::string err = check_launch(1, env);
  ASSERT_FALSE(err.empty());
  EXPECT_NE(err.find("srun --mpi=pmix"), std::string::npos) << err;
  EXPECT_NE(err.find("4 tasks"), std::string::npos) << err;
}

TEST(CheckLaunch, ANonZeroProcIdAloneAlsoRevealsTheWrongPmi) {
  const auto env = fake_env({{"SLURM_NTASKS", "3"}, {"SLURM_PROCID", "2"}});
  EXPECT_NE(check_launch(1, env).find("srun --mpi=pmix"), std::string::npos);
}

TEST(CheckLaunch, PlainRunsAndCorrectLaunchesPass) {
  EXPECT_EQ(check_launch(1, fake_env({})), "") << "a plain single-process run";
  EXPECT_EQ(check_launch(4, fake_env({{"SLURM_STEP_NUM_TASKS", "4"}, {"SLURM_NTASKS", "4"}})), "")
      << "srun with a working PMI: MPI sees all 4";
  // A batch script running ./app directly: the job has 4 tasks but this is not an srun step.
  EXPECT_EQ(check_launch(1, fake_env({{"SLURM_NTASKS", "4"}, {"SLURM_PROCID", "0"}})), "");
  EXPECT_EQ(check_launch(1, fake_env({{"SLURM_STEP_NUM_TASKS", "1"}})), "") << "srun -n 1";
}

TEST(Config, HasFlagMatchesWholeArguments) {
  Args a{"--help", "-v"};
  EXPECT_TRUE(mpiray::detail::has_flag(a.argc(), a.argv(), "--help"));
  EXPECT_TRUE(mpiray::detail::has_flag(a.argc(), a.argv(), "-v"));
  EXPECT_FALSE(mpiray::detail::has_flag(a.argc(), a.argv(), "--hel"));
  EXPECT_FALSE(mpiray::detail::has_flag(a.argc(), a.argv(), "prog")) << "argv[0] is skipped";
}

TEST(Config, LaunchModeDescribesTheLauncher) {
  EXPECT_EQ(mpiray::detail::launch_mode(1, fake_env({})), "single process");
  EXPECT_EQ(mpiray::detail::launch_mode(4, fake_env({{"OMPI_COMM_WORLD_SIZE", "4"}})), "mpirun");
  EXPECT_EQ(mpiray::detail::launch_mode(4, fake_env({{"SLURM_STEP_ID", "0"}, {"PMIX_RANK", "1"}})),
            "srun (pmix)");
}

TEST(Config, AvailableCoresIsPositive) { EXPECT_GE(mpiray::detail::available_cores(), 1); }

}  // namespace
