// glibc malloc settings for a process that serves HTTP natively. By default a thread arena gives
// its free top back (madvise) as soon as it passes 128 KiB, and blocks over 128 KiB are mmap'ed
// and unmapped one by one: a server moving 64 KiB buffers (request bodies read into bytes
// objects, responses) then pays a TLB shootdown and fresh page faults on nearly every request
// (measured: madvise 24% of the daemon's samples in the 1 MiB upload scenario, which ran at 0.45x
// the speed it has with these settings). Memory freed stays in the process up to kTrimThreshold
// per arena; the gateway still trims after large transfers (wsgi/gateway.cc). Applied by the
// native front, by the Node addon when it starts Python (its worker threads hand response chunks
// to the JavaScript thread: 64 KiB responses through engine.mount() ran 3.3x faster), by the
// daemon front addon and by daemon processes (1 MiB uploads through the Node front to daemons:
// 1.7x).
#pragma once

namespace pyhost {

// Once per process; later calls do nothing.
void TuneAllocatorForServing();

}  // namespace pyhost
