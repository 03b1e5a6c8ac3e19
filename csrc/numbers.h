// The numbers an ASCII sentence states, for the number-consistency filter. The grammar is the
// regex in impdist/filters/numbers.py (its reference, which reads non-ASCII texts); tests hold
// the two equal. Numerals come out normalised; spans of number words are left to number-parser.
#pragma once
#include <string>
#include <vector>

#include "lexical.h"

namespace impdist {

struct NumberScan {
  bool scanned = false;                 // false: the text is not ASCII, so it was not read here
  std::vector<std::string> numerals;    // normalised: "1,000.50" -> "1000.5", "3.5 million" -> "3500000"
  std::vector<std::string> word_spans;  // lower-cased spans of number words ("twenty-one", "two hundred")
};

void scan_numbers(const Strs& texts, int threads, std::vector<NumberScan>& out);

}  // namespace impdist
