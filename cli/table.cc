#include "cli/table.h"

#include <algorithm>

#include "common/text_escape.h"

namespace herald::cli {

void Table::print(std::FILE* out) const { std::fputs(toString().c_str(), out); }

std::string Table::toString() const {
  // Cells may hold what a peer chose (a token's `sub`, a node id, publication data): escape
  // control characters so that none can forge a row or drive the terminal.
  std::vector<std::vector<std::string>> rows;
  rows.reserve(rows_.size());
  for (const auto& row : rows_) {
    std::vector<std::string> escaped;
    escaped.reserve(row.size());
    for (const auto& cell : row) {
      escaped.push_back(escapeControl(cell));
    }
    rows.push_back(std::move(escaped));
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string text;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      text += row[i];
      if (i + 1 < row.size()) {
        text.append(widths[i] - row[i].size() + 2, ' ');
      }
    }
    text += '\n';
  }
  return text;
}

}  // namespace herald::cli
