#pragma once

#include <cstdint>
#include <vector>

namespace herald::bench {

// Resident memory of a process in KiB (VmRSS), 0 if unreadable.
uint64_t rssKib(int pid);
// CPU seconds (user + system) a process has used so far, from /proc; 0 if unreadable.
double processCpuSeconds(int pid);
// The sum over `pids`.
double serversCpuSeconds(const std::vector<int>& pids);
// This process's CPU seconds so far.
double cpuSeconds();

}  // namespace herald::bench
