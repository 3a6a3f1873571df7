// Keeps docs/tour.md honest: every `name` ([path:line](../path#Lline)) it cites must name code on
// that line, and the output it quotes must be what examples/tour prints now (numbers aside: times,
// lambda and the AVX2/AVX-512 block size vary), from one machine.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path
                         << " (a file the tour cites must be in tests/docs:tour_test's data)";
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(TourTest, EveryCitedLineHoldsTheNameItCites) {
  const std::string tour = read_file("docs/tour.md");
  const std::regex citation(R"(`([^`]+)`\s+\(\[([^\]:]+):(\d+)\]\(\.\./([^)#]+)#L(\d+)\)\))");
  int checked = 0;
  for (std::sregex_iterator it(tour.begin(), tour.end(), citation), end; it != end; ++it) {
    const std::string name = (*it)[1], path = (*it)[2], link = (*it)[4];
    const int line = std::stoi((*it)[3]), link_line = std::stoi((*it)[5]);
    EXPECT_EQ(path, link) << "the text and the link of `" << name << "` name different files";
    EXPECT_EQ(line, link_line) << "the text and the link of `" << name << "` differ in line";
    const std::vector<std::string> source = lines_of(read_file(path));
    ASSERT_GE(line, 1);
    const std::string at = line <= int(source.size()) ? source[line - 1] : "(past the end)";
    if (at.find(name) == std::string::npos) {
      std::string now;
      for (size_t i = 0; i < source.size(); ++i) {
        if (source[i].find(name) != std::string::npos) now += " " + std::to_string(i + 1);
      }
      ADD_FAILURE() << "docs/tour.md cites " << path << ":" << line << " for `" << name
                    << "`, but that line is: " << at << "\n`" << name << "` is now on line(s)"
                    << (now.empty() ? " none" : now);
    }
    ++checked;
  }
  // Every code link must be a citation this test understands.
  size_t links = 0;
  for (size_t at = tour.find("](../"); at != std::string::npos; at = tour.find("](../", at + 1)) {
    ++links;
  }
  EXPECT_EQ(size_t(checked), links)
      << "a link to code is not in the form `name` ([path:line](../path#Lline))";
  EXPECT_GE(checked, 20);
}

// Numbers become '#', so that times, lambda and block sizes do not matter; spaces collapse.
std::string shape_of(const std::string& line) {
  std::string s = std::regex_replace(line, std::regex(R"(-?\d+(\.\d+)?(e[-+]?\d+)?)"), "#");
  s = std::regex_replace(s, std::regex(R"(\s+)"), " ");
  return s;
}

struct TourRun {
  std::string output;  // stdout and stderr
  int status;          // pclose's
};

TourRun run_tour(const std::string& flags) {
  FILE* pipe = popen(("examples/tour " + flags + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {"popen failed", -1};
  std::string output;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  return {output, pclose(pipe)};
}

TEST(TourTest, TheQuotedOutputIsWhatTheTourPrints) {
  const auto [output, status] = run_tour("");
  ASSERT_EQ(status, 0) << output;

  std::vector<std::string> printed;
  for (const std::string& line : lines_of(output)) {
    if (!line.empty() && line.rfind("A tiny", 0) != 0) printed.push_back(shape_of(line));
  }
  std::vector<std::string> quoted;
  bool in_block = false;
  for (const std::string& line : lines_of(read_file("docs/tour.md"))) {
    if (line.rfind("```", 0) == 0) {
      in_block = !in_block;
    } else if (in_block && !line.empty()) {
      quoted.push_back(shape_of(line));
    }
  }
  ASSERT_FALSE(quoted.empty());
  EXPECT_EQ(quoted, printed) << "docs/tour.md quotes other output than examples/tour prints; "
                                "run bazel run //examples:tour and update the quotes";
}

// The tour has no flags: given one (--batch=1, say), it says so rather than print the same
// step as if the flag had been taken.
TEST(TourTest, RefusesFlags) {
  const auto [output, status] = run_tour("--batch=1");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << output;
  EXPECT_EQ(output, "tour: takes no flags, got --batch=1 (it runs one fixed tiny model; "
                    "tools/bench:bit_bench times other models and sizes)\n");
}

// The numbers aside, the quote must come from one machine: every blocked layout in it has the
// same block size (an edit from an AVX-512 run once mixed aBcd16b into the AVX2 machine's 8b).
TEST(TourTest, TheQuotedLayoutsComeFromOneMachine) {
  const std::string tour = read_file("docs/tour.md");
  const std::regex blocked(R"(onednn:aBcd(\d+)b)");
  std::vector<std::string> blocks;
  for (std::sregex_iterator it(tour.begin(), tour.end(), blocked), end; it != end; ++it) {
    blocks.push_back((*it)[1]);
  }
  ASSERT_GE(blocks.size(), 3u);
  for (const std::string& block : blocks) {
    EXPECT_EQ(block, blocks[0]) << "docs/tour.md quotes aBcd" << block << "b among aBcd"
                                << blocks[0] << "b layouts";
  }
}

}  // namespace
