// ufqctl: load, bind, swap, tune, train and watch ufq I/O scheduling policies.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli.hpp"
#include "commands.hpp"
#include "ufq/error.hpp"

namespace {

constexpr const char* kDescription =
    "ufqctl manages ufq I/O scheduling policies: BPF programs (struct ufq_ops) that decide the\n"
    "order in which a block device serves requests.";

} // namespace

int main(int argc, char** argv) {
    CLI::App app{kDescription, "ufqctl"};
    ufqctl::Options opts;
    try {
        opts = ufqctl::parse(app, argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        return ufqctl::run(opts);
    } catch (const ufq::Error& e) {
        std::fprintf(stderr, "ufqctl: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ufqctl: unexpected error: %s\n", e.what());
        return 1;
    }
}
