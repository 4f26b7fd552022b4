#include "wire/host_protocol.h"

#include "wire/protocol.h"

namespace pyhost {
namespace host_wire {

std::string Encode(uint32_t id, const std::vector<std::string>& fields) {
  size_t size = 4;
  for (const auto& f : fields) size += 4 + f.size();
  std::string out(size, '\0');
  char* p = out.data();
  wire::EncodeU32(id, p);
  p += 4;
  for (const auto& f : fields) {
    wire::EncodeU32(static_cast<uint32_t>(f.size()), p);
    p += 4;
    f.copy(p, f.size());
    p += f.size();
  }
  return out;
}

bool Decode(const std::string& payload, uint32_t* id, std::vector<std::string>* fields, size_t count) {
  if (payload.size() < 4) return false;
  *id = wire::DecodeU32(payload.data());
  fields->clear();
  size_t pos = 4;
  while (pos < payload.size()) {
    if (payload.size() - pos < 4) return false;
    uint32_t len = wire::DecodeU32(payload.data() + pos);
    pos += 4;
    if (payload.size() - pos < len) return false;
    fields->emplace_back(payload.data() + pos, len);
    pos += len;
  }
  return fields->size() == count;
}

}  // namespace host_wire
}  // namespace pyhost
