// Queue steering for a multi-queue TUN device: a small eBPF socket-filter
// program, attached with TUNSETSTEERINGEBPF, picks the queue (and so the
// worker thread and NAT engine) of every packet the kernel hands to the device.
//
// Why raw instructions: the two programs are ~50 instructions; building them
// here needs neither clang nor libbpf at install time, and the kernel's
// verifier checks them when they load.
//
// The kernel takes the program's return value, truncated to 16 bits, modulo
// the number of queues (tun_ebpf_select_queue). src/dataplane/tun/steering.ts
// holds the same decisions in TypeScript (unit-tested); keep them in step.
//
//   by host (inside device): the queue of the packet's source address, a fold
//     of its 32 bits, so both directions of every flow of one inside host meet
//     on one engine.
//   by port (outside device): a lookup in an array map of 3 x 65536 u32 (TCP,
//     UDP, ICMP identifier) filled from JS: the public port of the packet (the
//     destination port; in an ICMP error, the source port of the quoted packet,
//     which is the one masq sent). Unknown shapes and non-first fragments give
//     0 (queue 0).
//
// JS surface (module functions, wrapped by src/dataplane/tun/steering-native.ts):
//   steeringAttach(tunFd, byPort) -> mapFd (-1 for by host)
//   steeringDetach(tunFd)
//   steeringSet(mapFd, keysU32, valuesU32, count) -> entries written
//   steeringClose(mapFd)

#include <node_api.h>

#if defined(__linux__)

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/if_tun.h>

#include <string>
#include <vector>

#ifndef TUNSETSTEERINGEBPF
#define TUNSETSTEERINGEBPF _IOR('T', 224, int)
#endif

namespace {

constexpr uint32_t kTablePorts = 65536;
constexpr uint32_t kTables = 3;  // TCP, UDP, ICMP identifier
constexpr uint32_t kTcpBase = 0;
constexpr uint32_t kUdpBase = kTablePorts;
constexpr uint32_t kIcmpBase = 2 * kTablePorts;

long Bpf(int cmd, union bpf_attr* attr) { return syscall(__NR_bpf, cmd, attr, sizeof *attr); }

// ------------------------------------------------------------- a tiny assembler with labels

class Asm {
 public:
  std::vector<bpf_insn> code;

  void Raw(uint8_t op, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i;
    memset(&i, 0, sizeof i);
    i.code = op;
    i.dst_reg = dst;
    i.src_reg = src;
    i.off = off;
    i.imm = imm;
    code.push_back(i);
  }
  void MovReg(uint8_t dst, uint8_t src) { Raw(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
  void MovImm(uint8_t dst, int32_t imm) { Raw(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
  void AluImm(uint8_t op, uint8_t dst, int32_t imm) { Raw(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm); }
  void AluReg(uint8_t op, uint8_t dst, uint8_t src) { Raw(BPF_ALU64 | op | BPF_X, dst, src, 0, 0); }
  // Packet loads relative to skb->data (the IP header on a TUN device); out of bounds ends the program with 0.
  void LoadAbs(uint8_t size, int32_t offset) { Raw(BPF_LD | BPF_ABS | size, 0, 0, 0, offset); }
  void LoadInd(uint8_t size, uint8_t reg, int32_t offset) { Raw(BPF_LD | BPF_IND | size, 0, reg, 0, offset); }
  void JumpImm(uint8_t op, uint8_t reg, int32_t imm, const char* label) {
    fixups.push_back({code.size(), label});
    Raw(BPF_JMP | op | BPF_K, reg, 0, 0, imm);
  }
  void Jump(const char* label) {
    fixups.push_back({code.size(), label});
    Raw(BPF_JMP | BPF_JA, 0, 0, 0, 0);
  }
  void Label(const char* name) { labels.push_back({code.size(), name}); }
  void Exit() { Raw(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

  bool Resolve() {
    for (const auto& f : fixups) {
      bool found = false;
      for (const auto& l : labels) {
        if (l.name != f.name) continue;
        code[f.at].off = static_cast<int16_t>(static_cast<long>(l.at) - static_cast<long>(f.at) - 1);
        found = true;
      }
      if (!found) return false;
    }
    return true;
  }

 private:
  struct Mark {
    size_t at;
    std::string name;
  };
  std::vector<Mark> fixups;
  std::vector<Mark> labels;
};

// r6 holds the skb (LD_ABS/LD_IND read through it); r7 an offset into the packet; r8 the table base.
void ByHost(Asm& a) {
  a.MovReg(BPF_REG_6, BPF_REG_1);
  a.LoadAbs(BPF_W, 12);  // source address, host order
  a.MovReg(BPF_REG_1, BPF_REG_0);
  a.AluImm(BPF_RSH, BPF_REG_1, 16);
  a.AluReg(BPF_XOR, BPF_REG_0, BPF_REG_1);
  a.MovReg(BPF_REG_1, BPF_REG_0);
  a.AluImm(BPF_RSH, BPF_REG_1, 8);
  a.AluReg(BPF_XOR, BPF_REG_0, BPF_REG_1);
  a.AluImm(BPF_AND, BPF_REG_0, 0xffff);
  a.Exit();
}

// A jump on the IP protocol number in `reg`: TCP, UDP and ICMP to their labels, anything else to "zero".
void OnProtocol(Asm& a, uint8_t reg, const char* tcp, const char* udp, const char* icmp) {
  a.JumpImm(BPF_JEQ, reg, 6, tcp);
  a.JumpImm(BPF_JEQ, reg, 17, udp);
  a.JumpImm(BPF_JEQ, reg, 1, icmp);
  a.Jump("zero");
}

// At `label`: the 16-bit field at r7 + offset is the key into the table at `base`; on to "lookup".
void KeyFrom(Asm& a, const char* label, uint32_t base, int32_t offset) {
  a.Label(label);
  a.MovImm(BPF_REG_8, static_cast<int32_t>(base));
  a.LoadInd(BPF_H, BPF_REG_7, offset);
  a.Jump("lookup");
}

void ByPort(Asm& a, int mapFd) {
  a.MovReg(BPF_REG_6, BPF_REG_1);
  a.LoadAbs(BPF_H, 6);  // flags and fragment offset
  a.JumpImm(BPF_JSET, BPF_REG_0, 0x1fff, "zero");
  a.LoadAbs(BPF_B, 0);
  a.AluImm(BPF_AND, BPF_REG_0, 0x0f);
  a.AluImm(BPF_LSH, BPF_REG_0, 2);
  a.MovReg(BPF_REG_7, BPF_REG_0);  // header length
  a.LoadAbs(BPF_B, 9);             // protocol
  OnProtocol(a, BPF_REG_0, "tcp", "udp", "icmp");
  KeyFrom(a, "tcp", kTcpBase, 2);  // destination port
  KeyFrom(a, "udp", kUdpBase, 2);

  a.Label("icmp");
  a.LoadInd(BPF_B, BPF_REG_7, 0);  // type
  a.JumpImm(BPF_JEQ, BPF_REG_0, 0, "query");   // echo reply
  a.JumpImm(BPF_JEQ, BPF_REG_0, 14, "query");  // timestamp reply
  a.JumpImm(BPF_JEQ, BPF_REG_0, 3, "error");   // destination unreachable
  a.JumpImm(BPF_JEQ, BPF_REG_0, 11, "error");  // time exceeded
  a.JumpImm(BPF_JEQ, BPF_REG_0, 12, "error");  // parameter problem
  a.Jump("zero");
  KeyFrom(a, "query", kIcmpBase, 4);  // identifier

  a.Label("error");  // the quoted packet starts 8 bytes into the ICMP message
  a.LoadInd(BPF_B, BPF_REG_7, 8 + 9);
  a.MovReg(BPF_REG_9, BPF_REG_0);  // quoted protocol
  a.LoadInd(BPF_B, BPF_REG_7, 8);
  a.AluImm(BPF_AND, BPF_REG_0, 0x0f);
  a.AluImm(BPF_LSH, BPF_REG_0, 2);
  a.AluImm(BPF_ADD, BPF_REG_0, 8);
  a.AluReg(BPF_ADD, BPF_REG_7, BPF_REG_0);  // the quoted transport header
  OnProtocol(a, BPF_REG_9, "quoted-tcp", "quoted-udp", "quoted-icmp");
  // The quoted packet is one masq sent: its source port (identifier) is the public one.
  KeyFrom(a, "quoted-tcp", kTcpBase, 0);
  KeyFrom(a, "quoted-udp", kUdpBase, 0);
  KeyFrom(a, "quoted-icmp", kIcmpBase, 4);

  a.Label("lookup");
  a.AluReg(BPF_ADD, BPF_REG_0, BPF_REG_8);
  a.Raw(BPF_STX | BPF_MEM | BPF_W, BPF_REG_10, BPF_REG_0, -4, 0);
  a.Raw(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, mapFd);
  a.Raw(0, 0, 0, 0, 0);
  a.MovReg(BPF_REG_2, BPF_REG_10);
  a.AluImm(BPF_ADD, BPF_REG_2, -4);
  a.Raw(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
  a.JumpImm(BPF_JEQ, BPF_REG_0, 0, "zero");
  a.Raw(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_0, BPF_REG_0, 0, 0);
  a.Exit();

  a.Label("zero");
  a.MovImm(BPF_REG_0, 0);
  a.Exit();
}

// ------------------------------------------------------------- N-API

void ThrowErrno(napi_env env, int err, const char* syscall, const char* detail) {
  char text[1024];
  snprintf(text, sizeof text, "%s: %s%s%s", syscall, strerror(err), detail[0] ? ": " : "", detail);
  napi_value message, error, errnoValue, syscallValue;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, nullptr, message, &error);
  napi_create_int32(env, -err, &errnoValue);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscallValue);
  napi_set_named_property(env, error, "errno", errnoValue);
  napi_set_named_property(env, error, "syscall", syscallValue);
  napi_throw(env, error);
}

bool Args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < want) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "missing arguments");
    return false;
  }
  return true;
}

int CreateMap() {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = kTables * kTablePorts;
  return static_cast<int>(Bpf(BPF_MAP_CREATE, &attr));
}

int LoadProgram(const Asm& a, char* log, size_t logSize) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  static const char license[] = "GPL";
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = reinterpret_cast<uint64_t>(a.code.data());
  attr.insn_cnt = static_cast<uint32_t>(a.code.size());
  attr.license = reinterpret_cast<uint64_t>(license);
  attr.log_buf = reinterpret_cast<uint64_t>(log);
  attr.log_size = static_cast<uint32_t>(logSize);
  attr.log_level = 1;
  return static_cast<int>(Bpf(BPF_PROG_LOAD, &attr));
}

napi_value SteeringAttach(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, 2, argv)) return nullptr;
  int32_t tunFd;
  bool byPort;
  if (napi_get_value_int32(env, argv[0], &tunFd) != napi_ok || napi_get_value_bool(env, argv[1], &byPort) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "steeringAttach(tunFd: number, byPort: boolean)");
    return nullptr;
  }
  int mapFd = -1;
  if (byPort) {
    mapFd = CreateMap();
    if (mapFd < 0) {
      ThrowErrno(env, errno, "bpf(BPF_MAP_CREATE)", "");
      return nullptr;
    }
  }
  Asm a;
  if (byPort) ByPort(a, mapFd);
  else ByHost(a);
  if (!a.Resolve()) {
    if (mapFd >= 0) close(mapFd);
    napi_throw_error(env, "ERR_TUN_STEERING", "steering program: unresolved label (a bug)");
    return nullptr;
  }
  static thread_local char log[16384];
  log[0] = 0;
  int progFd = LoadProgram(a, log, sizeof log);
  if (progFd < 0) {
    int err = errno;
    if (mapFd >= 0) close(mapFd);
    // The verifier's last lines say why.
    size_t len = strlen(log);
    ThrowErrno(env, err, "bpf(BPF_PROG_LOAD)", len > 600 ? log + len - 600 : log);
    return nullptr;
  }
  int rc = ioctl(tunFd, TUNSETSTEERINGEBPF, &progFd);
  int err = errno;
  close(progFd);  // the device holds its own reference
  if (rc < 0) {
    if (mapFd >= 0) close(mapFd);
    ThrowErrno(env, err, "ioctl(TUNSETSTEERINGEBPF)", "");
    return nullptr;
  }
  napi_value result;
  napi_create_int32(env, mapFd, &result);
  return result;
}

napi_value SteeringDetach(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  int32_t tunFd;
  if (napi_get_value_int32(env, argv[0], &tunFd) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "steeringDetach(tunFd: number)");
    return nullptr;
  }
  int none = -1;
  if (ioctl(tunFd, TUNSETSTEERINGEBPF, &none) < 0) ThrowErrno(env, errno, "ioctl(TUNSETSTEERINGEBPF)", "");
  return nullptr;
}

bool GetU32Array(napi_env env, napi_value value, uint32_t** data, size_t* length) {
  napi_typedarray_type type;
  void* raw;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, &buffer, &offset) != napi_ok || type != napi_uint32_array) {
    return false;
  }
  *data = static_cast<uint32_t*>(raw);
  return true;
}

napi_value SteeringSet(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!Args(env, info, 4, argv)) return nullptr;
  int32_t mapFd;
  uint32_t count;
  uint32_t *keys, *values;
  size_t keyLength, valueLength;
  if (napi_get_value_int32(env, argv[0], &mapFd) != napi_ok || !GetU32Array(env, argv[1], &keys, &keyLength) ||
      !GetU32Array(env, argv[2], &values, &valueLength) || napi_get_value_uint32(env, argv[3], &count) != napi_ok ||
      count > keyLength || count > valueLength) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "steeringSet(mapFd, keys: Uint32Array, values: Uint32Array, count)");
    return nullptr;
  }
  uint32_t done = 0;
  for (; done < count; done++) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_fd = static_cast<uint32_t>(mapFd);
    attr.key = reinterpret_cast<uint64_t>(&keys[done]);
    attr.value = reinterpret_cast<uint64_t>(&values[done]);
    attr.flags = BPF_ANY;
    if (Bpf(BPF_MAP_UPDATE_ELEM, &attr) < 0) {
      ThrowErrno(env, errno, "bpf(BPF_MAP_UPDATE_ELEM)", "");
      return nullptr;
    }
  }
  napi_value result;
  napi_create_uint32(env, done, &result);
  return result;
}

napi_value SteeringClose(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) == napi_ok && fd >= 0) close(fd);
  return nullptr;
}

}  // namespace

void RegisterSteering(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"steeringAttach", nullptr, SteeringAttach, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"steeringDetach", nullptr, SteeringDetach, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"steeringSet", nullptr, SteeringSet, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"steeringClose", nullptr, SteeringClose, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
}

#endif
