#include "batch.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "minetrace/base/assert.h"

namespace minetrace::cli {
namespace {

// A batch larger than this is not what one agent signs between two uploads.
constexpr uint64_t kMaxBatchFileBytes = uint64_t{1} << 30;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// Closes a file descriptor on every path out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Result<std::string> ReadAll(int fd, uint64_t size, const std::string& name) {
  std::string bytes(static_cast<size_t>(size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pread(fd, bytes.data() + done, bytes.size() - done,
                              static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return MakeError(ErrorCode::kInternal, Errno("cannot read " + name));
    if (n == 0) break;  // shrank under us: the parse below reports the short tail
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

Result<void> WriteAll(int fd, std::string_view bytes, const std::string& name) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return MakeError(ErrorCode::kInternal, Errno("cannot write " + name));
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

std::string EncodeBatchRecord(const v1::SignedTx& tx) {
  const std::string body = tx.SerializeAsString();
  MT_ASSERT(!body.empty());
  MT_ASSERT(body.size() <= kMaxBatchRecordBytes);
  const auto n = static_cast<uint32_t>(body.size());
  std::string record;
  record.reserve(4 + body.size());
  record.push_back(static_cast<char>((n >> 24) & 0xff));
  record.push_back(static_cast<char>((n >> 16) & 0xff));
  record.push_back(static_cast<char>((n >> 8) & 0xff));
  record.push_back(static_cast<char>(n & 0xff));
  record += body;
  return record;
}

Result<std::vector<v1::SignedTx>> ParseBatch(std::string_view bytes) {
  std::vector<v1::SignedTx> txs;
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t number = txs.size() + 1;
    const std::string record = "record " + std::to_string(number);
    if (bytes.size() - pos < 4) {
      return MakeError(ErrorCode::kDataLoss,
                       record + " is truncated: " + std::to_string(bytes.size() - pos) +
                           " of its 4 length bytes (the file ends mid-record; an interrupted "
                           "write?)");
    }
    const auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])); };
    const uint32_t n = (b(pos) << 24) | (b(pos + 1) << 16) | (b(pos + 2) << 8) | b(pos + 3);
    pos += 4;
    if (n == 0 || n > kMaxBatchRecordBytes) {
      return MakeError(ErrorCode::kDataLoss,
                       record + " has length " + std::to_string(n) + " (1.." +
                           std::to_string(kMaxBatchRecordBytes) +
                           "): this is not a minetrace batch file, or it is damaged");
    }
    if (bytes.size() - pos < n) {
      return MakeError(ErrorCode::kDataLoss,
                       record + " is truncated: " + std::to_string(bytes.size() - pos) + " of " +
                           std::to_string(n) +
                           " bytes (the file ends mid-record; an interrupted write?)");
    }
    v1::SignedTx tx;
    if (!tx.ParseFromArray(bytes.data() + pos, static_cast<int>(n))) {
      return MakeError(ErrorCode::kDataLoss, record + " does not parse as a signed transaction");
    }
    pos += n;
    txs.push_back(std::move(tx));
  }
  return txs;
}

Result<std::vector<v1::SignedTx>> ReadBatch(const std::filesystem::path& file) {
  const std::string name = file.string();
  Fd fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return MakeError(ErrorCode::kNotFound, Errno("cannot open " + name));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return MakeError(ErrorCode::kInternal, Errno("stat " + name));
  if (!S_ISREG(st.st_mode)) return MakeError(ErrorCode::kInvalidArgument, name + " is not a file");
  if (static_cast<uint64_t>(st.st_size) > kMaxBatchFileBytes) {
    return MakeError(ErrorCode::kResourceExhausted, name + " is larger than 1 GiB; split it");
  }
  auto bytes = ReadAll(fd.get(), static_cast<uint64_t>(st.st_size), name);
  if (!bytes) return tl::unexpected(bytes.error());
  auto txs = ParseBatch(*bytes);
  if (!txs) return MakeError(txs.error().code, name + ": " + txs.error().message);
  return txs;
}

Result<size_t> AppendToBatch(const std::filesystem::path& file,
                             std::span<const v1::SignedTx> txs) {
  MT_ASSERT(!txs.empty());
  const std::string name = file.string();
  std::string records;
  for (const v1::SignedTx& tx : txs) {
    if (tx.ByteSizeLong() == 0 || tx.ByteSizeLong() > kMaxBatchRecordBytes) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "a signed transaction of " + std::to_string(tx.ByteSizeLong()) +
                           " bytes does not fit a batch record");
    }
    records += EncodeBatchRecord(tx);
  }

  struct stat before {};
  const bool existed = ::stat(name.c_str(), &before) == 0;
  Fd fd(::open(name.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) return MakeError(ErrorCode::kInternal, Errno("cannot open " + name));
  // Another appender (a second terminal, a script) must not interleave with this one.
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return MakeError(ErrorCode::kInternal, Errno("cannot lock " + name));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return MakeError(ErrorCode::kInternal, Errno("stat " + name));
  if (!S_ISREG(st.st_mode)) return MakeError(ErrorCode::kInvalidArgument, name + " is not a file");
  if (static_cast<uint64_t>(st.st_size) + records.size() > kMaxBatchFileBytes) {
    return MakeError(ErrorCode::kResourceExhausted,
                     name + " would grow past 1 GiB; upload it and start a new batch file");
  }

  // Records appended after a damaged tail would be unreadable: refuse, and leave the file for
  // a person to look at.
  size_t existing = 0;
  if (st.st_size > 0) {
    Fd reader(::open(name.c_str(), O_RDONLY | O_CLOEXEC));
    if (reader.get() < 0) return MakeError(ErrorCode::kInternal, Errno("cannot read " + name));
    auto bytes = ReadAll(reader.get(), static_cast<uint64_t>(st.st_size), name);
    if (!bytes) return tl::unexpected(bytes.error());
    auto parsed = ParseBatch(*bytes);
    if (!parsed) {
      return MakeError(ErrorCode::kDataLoss,
                       name + ": " + parsed.error().message +
                           "; nothing was appended (move the file aside and start a new one)");
    }
    existing = parsed->size();
  }

  auto written = WriteAll(fd.get(), records, name);
  if (!written) {
    // A short write (disk full) would leave a truncated record: cut it off again.
    if (::ftruncate(fd.get(), st.st_size) != 0) {
      return MakeError(ErrorCode::kInternal,
                       written.error().message + "; and cutting the partial record off failed (" +
                           std::strerror(errno) + "): the last record of " + name +
                           " is damaged");
    }
    return tl::unexpected(written.error());
  }
  if (::fsync(fd.get()) != 0) return MakeError(ErrorCode::kInternal, Errno("fsync " + name));
  if (!existed) {
    // A new file's name must survive a crash too: sync the folder that holds it.
    const std::filesystem::path parent =
        file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
    Fd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() >= 0 && ::fsync(dir.get()) != 0) {
      return MakeError(ErrorCode::kInternal, Errno("fsync the folder of " + name));
    }
  }
  return existing;
}

}  // namespace minetrace::cli
