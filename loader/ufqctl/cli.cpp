// ufqctl's command line: every command, its options and its help text. Kept apart from what
// the commands do, so that unit tests can check parsing without a kernel.
#include "cli.hpp"

#include <memory>
#include <sstream>

namespace ufqctl {
namespace {

constexpr const char* kDevHelp =
    "Device: a disk name (nvme0n1), a path (/dev/nvme0n1, /dev/disk/by-id/...) or MAJ:MIN; a "
    "partition means its disk";

CLI::App* command(CLI::App& parent, Options& opts, const std::string& name,
                  const std::string& description, const std::string& full_name = "") {
    auto* sub = parent.add_subcommand(name, description);
    const std::string id = full_name.empty() ? name : full_name;
    sub->callback([&opts, id] { opts.command = id; });
    return sub;
}

// Lists of commands show the first line of each description; `ufqctl COMMAND --help` shows
// all of it.
class Formatter : public CLI::Formatter {
public:
    std::string make_subcommand(const CLI::App* sub) const override {
        std::stringstream out;
        const std::string& text = sub->get_description();
        CLI::detail::format_help(out, sub->get_display_name(true), text.substr(0, text.find('\n')),
                                 column_width_);
        return out.str();
    }
};

void check_positive(CLI::Option* opt) {
    opt->check(CLI::PositiveNumber);
}

constexpr const char* kCgroupHelp =
    "A cgroup v2 directory, e.g. /sys/fs/cgroup/lc; the tenant is its cgroup id (the "
    "directory's inode number)";

void add_model_train(CLI::App& model, Options& opts) {
    auto* train = command(
        model, opts, "train",
        "Fit a policy's model on traces and write weights for model push.\n"
        "Only the ml policy has a trainer. Each trace (ufqctl trace record) is replayed in time\n"
        "order through the policy's own feature code, so every request gets the features the\n"
        "policy computed when it arrived; a 14-8-1 ReLU network is fitted on log2 of the service\n"
        "time (seeded mini-batch Adam), quantised to the policy's Q16.16 weights and written to\n"
        "FILE for ufqctl model push, replacing FILE atomically. A seeded draw holds out\n"
        "--holdout-pct of the requests; the report gives their median and p90 relative error\n"
        "of service time for the network, for the quantised weights as the policy computes\n"
        "them, and for the policy's running mean per direction (its prediction before a push,\n"
        "also written into the weights as baseline_err_pct) and the training set's mean.\n"
        "The sequential classifier's starting weights (seq_w, seq_b) are fitted too, by\n"
        "logistic regression on its inputs, and the report gives its held-out mistakes.\n"
        "Requests that arrived before the recording started or in its last p99 latency only\n"
        "feed the replay. At least 1000 usable requests are needed. The same traces and\n"
        "options give the same file. Needs no root.",
        "model train");
    train->add_option("NAME", opts.name, "Policy name: ml")->required();
    train->add_option("--trace,-t", opts.traces,
                      "Trace written by ufqctl trace record (repeatable; several are replayed "
                      "each on its own and trained on together)")
        ->type_name("FILE")
        ->required();
    train->add_option("-o,--output", opts.file, "Weights file to write, e.g. weights.json")
        ->type_name("FILE")
        ->required();
    train->add_option("--seed", opts.seed, "Seed of the held-out draw and of the fit")
        ->capture_default_str();
    train->add_option("--epochs", opts.epochs, "Passes over the training requests (1-10000)")
        ->capture_default_str();
    train->add_option("--holdout-pct", opts.holdout_pct,
                      "Percent of the requests held out to measure the error (1-90)")
        ->capture_default_str();
    train->add_option("--predictions", opts.predictions,
                      "Also write each held-out request's measured and predicted service time "
                      "(CSV: arrival_ns,write,measured_us,predicted_us,running_mean_us; chart it "
                      "with tools/bench/plot_predictions.py)")
        ->type_name("FILE");
    train->add_flag("--json", opts.json, "Print the report as one JSON object");
    train->footer("Example: ufqctl model train ml --trace t.csv -o w.json && ufqctl model push "
                  "ml w.json");
}

void add_tenant_commands(CLI::App& app, Options& opts) {
    auto* tenant = app.add_subcommand(
        "tenant", "Set, remove or list a policy's per-cgroup settings (tenants).");
    tenant->require_subcommand(1);

    auto* set = command(*tenant, opts, "set",
                        "Set a cgroup's settings in a policy's tenants map.\n"
                        "The policy's map whose name ends in _tenants (UFQ_TENANTS_MAP) holds one\n"
                        "entry per cgroup v2 id. A new entry starts at the defaults the policy\n"
                        "gives in BTF, an existing one at its values; each NAME=VALUE is checked\n"
                        "against the member's type and range (an enum takes its short names) and\n"
                        "all are written in one map update, or none. The cgroup must have the io\n"
                        "controller (its cgroup.controllers lists io): without it its I/O is\n"
                        "charged to an ancestor and the entry would never match.",
                        "tenant set");
    set->add_option("POLICY", opts.name, "Policy name")->required();
    set->add_option("CGROUP_PATH", opts.cgroup, kCgroupHelp)->required();
    set->add_option("NAME=VALUE", opts.assignments, "Setting and value (decimal, 0x hex or an "
                                                    "enumerator's name)")
        ->required();
    set->footer("Example: ufqctl tenant set qos /sys/fs/cgroup/lc class=lc slo_p99_us=2000");

    auto* del = tenant->add_subcommand("del",
                                       "Remove a cgroup's entry from a policy's tenants map.\n"
                                       "Give the cgroup's directory, or --id with the cgroup id\n"
                                       "that ufqctl tenant list shows for a cgroup deleted while\n"
                                       "configured. Removing an entry that is not there is an\n"
                                       "error.");
    del->add_option("POLICY", opts.name, "Policy name")->required();
    auto* path = del->add_option("CGROUP_PATH", opts.cgroup, kCgroupHelp);
    auto* id = del->add_option("--id", opts.tenant_id, "Cgroup id instead of a path")
                   ->type_name("ID");
    path->excludes(id);
    del->callback([&opts, path, id] {
        if (path->count() + id->count() != 1)
            throw CLI::RequiredError("CGROUP_PATH or --id");
        opts.by_id = id->count() > 0;
        opts.command = "tenant del";
    });
    del->footer("Example: ufqctl tenant del qos /sys/fs/cgroup/lc; ufqctl tenant del qos --id "
                "4242");

    auto* list = command(*tenant, opts, "list",
                         "List a policy's tenants with their settings and live figures.\n"
                         "Each entry shows its cgroup's path (found by id under the cgroup2\n"
                         "mount; \"(deleted, id N)\" when no group has that id any more), its\n"
                         "settings and, for each device the policy serves, the figures the\n"
                         "policy keeps for the tenant in its _status map.",
                         "tenant list");
    list->add_option("POLICY", opts.name, "Policy name")->required();
    list->add_flag("--json", opts.json,
                   "One JSON object: {\"policy\", \"map\", \"max_entries\", \"tenants\": [{\"id\", "
                   "\"path\", \"settings\", \"devices\"}]}, settings as numbers");
}

} // namespace

void add_commands(CLI::App& app, Options& opts) {
    app.formatter(std::make_shared<Formatter>());
    app.get_formatter()->column_width(24);
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Show the help of every command");

    auto* load = command(app, opts, "load",
                         "Load a policy object, attach it and bind it to devices.\n"
                         "Opens and verifies OBJ, attaches its struct ufq_ops through a link,\n"
                         "pins link and maps under /sys/fs/bpf/ufq/POLICY/, switches each DEV to\n"
                         "the ufq elevator (remembering its elevator, or the policy it had, for\n"
                         "unload) and binds it. Tunables start at their defaults from the\n"
                         "policy's BTF; --set changes them before the policy sees its first\n"
                         "request. On any failure every device gets back what it had.");
    load->add_option("OBJ", opts.object, "Policy object, e.g. /usr/lib/ufq/policies/deadline.bpf.o")
        ->required();
    load->add_option("--dev,-d", opts.devices, kDevHelp)->type_name("DEV");
    load->add_option("--set,-s", opts.assignments,
                     "Set a tunable, e.g. --set fifo_batch=8 (repeatable)")
        ->type_name("KEY=VAL");
    load->footer("Example: ufqctl load deadline.bpf.o --dev nvme0n1 --set read_expire_ms=100");

    auto* unload = command(app, opts, "unload",
                           "Unbind a policy from its devices, restore their elevators, detach it.\n"
                           "Every device NAME serves is unbound. One ufqctl bound to NAME gets back\n"
                           "the policy it had before, if that is still loaded, else its elevator\n"
                           "from before ufqctl; a device moved to another policy since is left\n"
                           "alone. Removes the pins, which detaches the policy. Best effort: a\n"
                           "device that cannot be restored is reported and the rest goes on.");
    unload->add_option("NAME", opts.name, "Policy name (ufqctl list)")->required();
    unload->add_flag("--keep-ufq", opts.keep_ufq,
                     "Leave every device on the ufq elevator without a policy (FIFO order)");

    auto* swap = command(app, opts, "swap",
                         "Replace a running policy's programs in place (bpf_link_update).\n"
                         "Devices stay bound and no I/O fails: waiting requests are offered to\n"
                         "the new programs. Maps whose definition and BTF type did not change\n"
                         "(tunables, model, statistics, per-device state) are kept, others start\n"
                         "afresh; tunables in a new layout keep the values set, by name, where\n"
                         "the new ranges allow. OBJ must define the same policy name.");
    swap->add_option("NAME", opts.name, "Policy name")->required();
    swap->add_option("OBJ", opts.object, "Object with the new version of the policy")
        ->required();

    auto* bind = command(app, opts, "bind",
                         "Bind a device to a registered policy.\n"
                         "Switches DEV to the ufq elevator if needed (and back if the policy\n"
                         "refuses it). Moving a device between policies is atomic: waiting\n"
                         "requests go to the new policy. Unloading NAME gives DEV back what it\n"
                         "had before.");
    bind->add_option("NAME", opts.name, "Policy name, or none to unbind")->required();
    bind->add_option("--dev,-d", opts.devices, kDevHelp)->type_name("DEV")->required()
        ->expected(1);

    auto* unbind = command(app, opts, "unbind",
                           "Unbind a device's policy, leaving it on ufq in FIFO order.\n"
                           "The device stays on the ufq elevator, served in arrival order; ufqctl\n"
                           "unload of the policy that had it restores its previous elevator.");
    unbind->add_option("--dev,-d", opts.devices, kDevHelp)->type_name("DEV")->required()
        ->expected(1);

    command(app, opts, "list", "List the policies ufqctl has loaded, one name per line.");

    auto* status = command(app, opts, "status",
                           "Show loaded policies and the devices on the ufq elevator.\n"
                           "For each policy: the devices ufqctl bound to it and its pinned maps.\n"
                           "For each device: policy, state (active, none, or fallback when the\n"
                           "policy failed or went away), last error and request counters.");
    status->add_option("--dev,-d", opts.devices, kDevHelp + std::string(" (default: every "
                                                                      "device on ufq)"))
        ->type_name("DEV");
    status->add_flag("--json", opts.json, "One JSON object instead of text");

    auto* set = command(app, opts, "set",
                        "Set tunables of a loaded policy by name.\n"
                        "Values are checked against the type and the range the policy gives in\n"
                        "BTF (UFQ_TUNABLE); all are applied in one map update, or none.");
    set->add_option("NAME", opts.name, "Policy name")->required();
    set->add_option("KEY=VAL", opts.assignments, "Tunable and value (decimal or 0x hex)")
        ->required();
    set->footer("Example: ufqctl set deadline read_expire_ms=100 fifo_batch=8");

    auto* get = command(app, opts, "get",
                        "Show a loaded policy's tunables, or the value of one.\n"
                        "Without KEY: every tunable with its value, default and range; with KEY:\n"
                        "the value alone, for scripts.");
    get->add_option("NAME", opts.name, "Policy name")->required();
    get->add_option("KEY", opts.key, "Just this tunable's value");
    get->add_flag("--json", opts.json, "JSON object of name: value");

    add_tenant_commands(app, opts);

    auto* model = app.add_subcommand("model", "Push, show or train a policy's model weights.");
    model->require_subcommand(1);
    auto* push = command(*model, opts, "push",
                         "Write model weights from FILE.json atomically.\n"
                         "FILE is a JSON object shaped like the policy's weights struct (members\n"
                         "by name, arrays as nested arrays, integers only, within the ranges in\n"
                         "BTF). The weights go into the slot the policy is not reading, which\n"
                         "then becomes the live one: the policy never sees a half-written model.",
                         "model push");
    push->add_option("NAME", opts.name, "Policy name")->required();
    push->add_option("FILE", opts.file, "Weights, e.g. weights.json")->required();
    auto* show = command(*model, opts, "show",
                         "Show the live model weights and their generation.", "model show");
    show->add_option("NAME", opts.name, "Policy name")->required();
    show->add_flag("--json", opts.json,
                   "{\"generation\": N, \"map\": ..., \"weights\": {...}, \"pred_error\": ...}; "
                   ".weights is a valid push FILE");
    show->footer("A policy that reports its prediction error (map ufq_pred_error, as the ml\n"
                 "policy does) also shows, per direction, the median and p90 relative error of\n"
                 "service time since the last push, summed over the devices it serves.");
    add_model_train(*model, opts);

    auto* stats = command(app, opts, "stats",
                          "Stream per-device counters and latency percentiles.\n"
                          "Each sample shows IOPS, waiting requests, policy errors and p50, p99\n"
                          "and p99.9 of read and write latency (insertion to completion, from\n"
                          "the policy's SDK histogram; the first sample covers everything since\n"
                          "the policy was loaded, later ones the interval). A policy that\n"
                          "predicts service times (map ufq_pred_error, as the ml policy) also\n"
                          "shows per direction the count, median and p90 of the relative error\n"
                          "|predicted - measured| / measured since its live model was pushed,\n"
                          "and that model's generation (0: its built-in predictor). Ctrl-C stops.");
    stats->add_option("--dev,-d", opts.devices, kDevHelp + std::string(" (default: every "
                                                                     "device on ufq)"))
        ->type_name("DEV");
    check_positive(stats->add_option("--interval,-i", opts.interval, "Seconds between samples")
                       ->capture_default_str());
    stats->add_option("--count,-c", opts.count, "Samples to print (default: until Ctrl-C)");
    stats->add_flag("--json", opts.json, "One JSON object per device and sample (JSON lines)");
    stats->add_flag("--tenants", opts.tenants,
                    "Also each tenant's live figures on the device, from the policy's status map "
                    "(see ufqctl tenant --help)");

    auto* trace = app.add_subcommand("trace", "Record per-request completion events.");
    trace->require_subcommand(1);
    auto* record = command(*trace, opts, "record",
                           "Record one event per completed request of DEV for SEC seconds.\n"
                           "Each event holds what the policy sees of the request (sector, size,\n"
                           "flags, priority, cgroup, queue depth) and its measured latencies, as\n"
                           "CSV for offline training (docs/ufq-formats.md). Recording is on in\n"
                           "the policy only while this runs; Ctrl-C ends it early.",
                           "trace record");
    record->add_option("--dev,-d", opts.devices, kDevHelp)->type_name("DEV")->required()
        ->expected(1);
    check_positive(record->add_option("--duration", opts.duration, "Seconds to record")
                       ->type_name("SEC")->required());
    record->add_option("-o,--output", opts.file, "CSV file to write")->type_name("FILE")
        ->required();

    // Last: subcommands added after it would inherit it.
    app.footer(
        "Every command but model train needs root. A loaded policy stays attached after\n"
        "ufqctl exits: its link and maps are pinned under /sys/fs/bpf/ufq/POLICY/ and what each\n"
        "device used before is kept in /run/ufq/devices.json. Every failure prints one line (a\n"
        "rejected policy also the end of the verifier log, kept in\n"
        "/run/ufq/POLICY.verifier.log) and leaves nothing attached, pinned or switched. See\n"
        "ufqctl(8) and docs/ufq-formats.md.");
}

Options parse(CLI::App& app, int argc, const char* const* argv) {
    Options opts;
    add_commands(app, opts);
    app.parse(argc, argv);
    return opts;
}

} // namespace ufqctl
