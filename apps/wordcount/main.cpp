// wordcount: map-reduce over text files with mpiray's partitions — scatter the lines over the
// worker ranks, count words where each partition lives, merge the counts in a pairwise tree —
// then print the top-k words. The result is checked against a serial count on the driver.
//
//   ./build/apps/wordcount                              # the shipped sample text
//   mpirun -np 3 --oversubscribe ./build/apps/wordcount --top 5 book1.txt book2.txt
//   mpirun -np 4 --oversubscribe ./build/apps/wordcount --repeat 200 --partitions 24
//
// Words are runs of ASCII letters and inner apostrophes, lower-cased ("Don't" -> "don't").

#include <mpiray/mpiray.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#ifndef MPIRAY_WORDCOUNT_SAMPLE
#define MPIRAY_WORDCOUNT_SAMPLE "apps/wordcount/sample.txt"
#endif

namespace {

using WordCounts = std::map<std::string, std::int64_t>;

void count_into(const std::string& line, WordCounts& counts) {
  std::string word;
  auto flush = [&] {
    while (!word.empty() && word.back() == '\'') word.pop_back();
    if (!word.empty()) ++counts[word];
    word.clear();
  };
  for (char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalpha(u) && u < 128) {
      word.push_back(static_cast<char>(std::tolower(u)));
    } else if (c == '\'' && !word.empty()) {
      word.push_back(c);
    } else {
      flush();
    }
  }
  flush();
}

// map: the word counts of one partition of lines (runs on the partition's rank).
WordCounts count_words(const std::vector<std::string>& lines) {
  WordCounts counts;
  for (const auto& line : lines) count_into(line, counts);
  return counts;
}

// reduce: two partial counts into one (runs where the left operand lives).
WordCounts merge_counts(WordCounts a, WordCounts b) {
  if (a.size() < b.size()) std::swap(a, b);
  for (const auto& [w, n] : b) a[w] += n;
  return a;
}
MPIRAY_REMOTE(count_words, merge_counts);

long arg_long(int argc, char** argv, const char* name, long dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atol(argv[i + 1]);
  return dflt;
}

// Arguments that are not options (or option values) are input files.
std::vector<std::string> input_files(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--top" || a == "--partitions" || a == "--repeat" || a == "--mpiray-threads") {
      ++i;
    } else if (a.rfind("--", 0) != 0) {
      files.push_back(a);
    }
  }
  if (files.empty()) files.push_back(MPIRAY_WORDCOUNT_SAMPLE);
  return files;
}

std::vector<std::pair<std::string, std::int64_t>> top_k(const WordCounts& counts, std::size_t k) {
  std::vector<std::pair<std::string, std::int64_t>> v(counts.begin(), counts.end());
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (v.size() > k) v.resize(k);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (mpiray::help_requested(argc, argv)) {
    std::cout << "wordcount: map-reduce word count over text files with mpiray partitions\n"
                 "usage: [mpirun -np N --oversubscribe] wordcount [options] [file...]\n"
                 "  file...          text files (default: the shipped sample, " MPIRAY_WORDCOUNT_SAMPLE ")\n"
                 "  --top K          words to print (default 10)\n"
                 "  --partitions P   partitions of the lines (default: 4 per worker rank)\n"
                 "  --repeat R       count the input R times over, for a bigger job (default 1)\n\n"
              << mpiray::runtime_help();
    return 0;
  }
  const std::size_t top = static_cast<std::size_t>(std::max(1L, arg_long(argc, argv, "--top", 10)));
  const long repeat = std::max(1L, arg_long(argc, argv, "--repeat", 1));
  const long partitions_opt = std::max(0L, arg_long(argc, argv, "--partitions", 0));
  const std::vector<std::string> files = input_files(argc, argv);

  return mpiray::run(argc, argv, [&] {
    std::vector<std::string> lines;
    for (const auto& f : files) {
      std::ifstream in(f);
      if (!in) {
        std::cerr << "wordcount: cannot read " << f << std::endl;
        return 2;
      }
      for (std::string line; std::getline(in, line);) lines.push_back(line);
    }
    const std::vector<std::string> once = lines;
    for (long r = 1; r < repeat; ++r) lines.insert(lines.end(), once.begin(), once.end());
    const std::size_t parts = partitions_opt > 0 ? static_cast<std::size_t>(partitions_opt)
                                                 : 4 * static_cast<std::size_t>(mpiray::num_workers());

    const auto t0 = std::chrono::steady_clock::now();
    const auto partitions = mpiray::scatter(lines, parts);                    // lines -> ranks
    const auto partial = mpiray::map_partitions(count_words, partitions);     // count in place
    const WordCounts counts = mpiray::reduce(merge_counts, partial).get();    // merge in a tree
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::int64_t total = 0;
    for (const auto& [w, n] : counts) total += n;
    std::cout << "wordcount: " << files.size() << " file(s), " << lines.size() << " lines";
    if (repeat > 1) std::cout << " (input x" << repeat << ")";
    std::cout << ", " << parts << " partitions on " << mpiray::num_workers()
              << " worker rank(s): " << total << " words, " << counts.size() << " distinct, in "
              << std::fixed << std::setprecision(3) << secs << " s\n";
    std::cout << "top " << top << ":\n";
    for (const auto& [w, n] : top_k(counts, top))
      std::cout << "  " << std::setw(8) << n << "  " << w << "\n";

    const WordCounts serial = count_words(lines);  // the same count, one line after another
    const bool ok = serial == counts;
    std::cout << "check: parallel counts == serial counts (" << serial.size()
              << " words): " << (ok ? "OK" : "FAILED") << "\n"
              << (ok ? "wordcount: OK" : "wordcount: FAILED") << std::endl;
    return ok ? 0 : 1;
  });
}
