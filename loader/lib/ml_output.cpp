// Writing the trainer's weights file and held-out predictions: readable text, and never a
// partial file.
#include "ufq/ml_train.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "errno_text.hpp"
#include "ufq/error.hpp"
#include "unique_fd.hpp"

namespace fs = std::filesystem;

namespace ufq::ml {
namespace {

// A new file under a unique name beside the output, renamed over it by commit(); removed if
// never committed. Created up front, so an unwritable directory fails before any work.
class PendingFile {
public:
    explicit PendingFile(fs::path target) : target_(std::move(target)) {
        if (target_.filename().empty() || fs::is_directory(target_))
            throw Error(fmt::format("cannot write {}: it is a directory; give a file name",
                                    target_.string()));
        const fs::path dir = target_.parent_path().empty() ? "." : target_.parent_path();
        // Appended piece by piece: "." + name trips a false -Wrestrict in GCC 12.
        std::string name = ".";
        name.append(target_.filename().string()).append(".XXXXXX");
        tmp_ = (dir / name).string();
        fd_ = UniqueFd(::mkstemp(tmp_.data()));
        if (!fd_.valid())
            throw Error(fmt::format("cannot write {}: {} (choose a writable place)",
                                    target_.string(), errno_text(errno)));
        // mkstemp creates 0600; a weights file is no secret: what open(2) would have made.
        const mode_t mask = ::umask(0);
        ::umask(mask);
        (void)::fchmod(fd_.get(), 0666 & ~mask);
    }
    ~PendingFile() {
        if (!committed_)
            ::unlink(tmp_.c_str());
    }
    PendingFile(const PendingFile&) = delete;
    PendingFile& operator=(const PendingFile&) = delete;

    void commit(std::string_view text) {
        while (!text.empty()) {
            const ssize_t n = ::write(fd_.get(), text.data(), text.size());
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                fail(n < 0 ? errno : EIO);
            text.remove_prefix(static_cast<std::size_t>(n));
        }
        if (::fsync(fd_.get()) != 0 || ::close(fd_.release()) != 0)
            fail(errno);
        if (::rename(tmp_.c_str(), target_.c_str()) != 0)
            fail(errno);
        committed_ = true;
    }

private:
    [[noreturn]] void fail(int err) const {
        throw Error(fmt::format("cannot write {}: {}", target_.string(), errno_text(err)));
    }

    fs::path target_;
    std::string tmp_;
    UniqueFd fd_{-1};
    bool committed_ = false;
};

} // namespace

std::string weights_text(const nlohmann::ordered_json& weights) {
    std::string out = "{\n";
    std::size_t n = 0;
    for (const auto& [key, value] : weights.items()) {
        out += fmt::format("  \"{}\": ", key);
        if (value.is_array() && !value.empty() && value.front().is_array()) {
            out += "[\n";
            for (std::size_t i = 0; i < value.size(); ++i)
                out += fmt::format("    {}{}\n", value[i].dump(), i + 1 < value.size() ? "," : "");
            out += "  ]";
        } else {
            out += value.dump();
        }
        out += ++n < weights.size() ? ",\n" : "\n";
    }
    return out + "}\n";
}

std::string predictions_csv(std::span<const HeldOutPrediction> predictions) {
    std::string out = "arrival_ns,write,measured_us,predicted_us,running_mean_us\n";
    for (const auto& p : predictions)
        out += fmt::format("{},{},{:.3f},{:.3f},{:.3f}\n", p.arrival_ns, p.write ? 1 : 0,
                           static_cast<double>(p.service_ns) / 1000, p.network_us,
                           p.running_mean_us);
    return out;
}

TrainReport train_to_file(std::span<const fs::path> traces, const fs::path& output,
                          const TrainOptions& options, const fs::path& predictions) {
    std::error_code ec1, ec2;
    if (!predictions.empty() &&
        fs::weakly_canonical(predictions, ec1) == fs::weakly_canonical(output, ec2) && !ec1 && !ec2)
        throw Error(fmt::format("the predictions and the weights would both go to {}: give "
                                "--predictions another file",
                                output.string()));
    PendingFile weights_file(output);
    std::optional<PendingFile> predictions_file;
    if (!predictions.empty())
        predictions_file.emplace(predictions);
    const TrainResult result = train_on_traces(traces, options);
    // The predictions first: a failure there leaves the weights file as it was, too.
    if (predictions_file)
        predictions_file->commit(predictions_csv(result.predictions));
    weights_file.commit(weights_text(result.weights));
    return result.report;
}

} // namespace ufq::ml
