#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace herald::cli {

// A plain text table with columns padded to their widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  // Writes the rows, each cell padded to its column's widest cell plus two spaces.
  void print(std::FILE* out) const;
  // The same text as print() writes.
  std::string toString() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace herald::cli
