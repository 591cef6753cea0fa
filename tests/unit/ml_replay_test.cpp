// The trainer's replay (ufq::ml::replay_trace over ml_replay_*) against the policy's own
// paths (ml_features(), ml_dispatched(), ml_dispatched_direct(), ml_completion() of
// policies/ml.h) on the same events: every feature of every sampled request must be the
// policy's, or the model is trained on inputs the policy never computes.
#include "ml.h"
#include "ml_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <vector>

#include "ml_synthetic_trace.hpp"
#include "ufq/ml_train.hpp"

namespace ufq::test {
namespace {

// A mixed trace: writes half the time (so the backlog features move), every seventh request
// not measured (service_ns 0, as requests other programs dispatched report), queueing at the
// device's depth (so some requests wait and some go from insert).
std::vector<ufq_trace_event> mixed_trace() {
    WorkloadOptions o;
    o.requests = 6000;
    o.write_fraction = 0.5;
    o.device_depth = 4;
    o.busy_gap_us = 20;
    o.quiet_gap_us = 3000;
    auto events = simulate_trace(o, [](const ufq_trace_event& ev, std::uint32_t in_flight,
                                       std::uint64_t) {
        return static_cast<std::uint64_t>(
            synthetic_service_us(ev.flags & 1, ev.bytes, in_flight) * 1000);
    });
    for (std::size_t i = 0; i < events.size(); i += 7)
        events[i].service_ns = 0;
    return events;
}

ml_req request_of(const ufq_trace_event& ev, u32 nr_in_flight, u32 nr_waiting) {
    ml_req r{};
    r.sector = ev.sector;
    r.bytes = ev.bytes;
    r.write = ev.flags & 1;
    r.prio_class = ML_PRIO_BE;
    r.nr_in_flight = nr_in_flight;
    r.nr_waiting = nr_waiting;
    r.now_ns = ev.insert_ns;
    return r;
}

// The events through the policy's paths, in the order ml_model.h prescribes for the replay
// (by time; completions, arrivals, dispatches; then trace order), the kernel's counts kept
// here: each arrival's features, by insert_ns.
std::map<u64, std::array<s32, ML_NR_FEATURES>> policy_features(
    const std::vector<ufq_trace_event>& events) {
    struct Step {
        u64 time;
        ml_replay_step kind;
        u32 event;
    };
    std::vector<Step> steps;
    for (u32 i = 0; i < events.size(); ++i) {
        const auto& ev = events[i];
        steps.push_back({ev.insert_ns, ML_REPLAY_ARRIVAL, i});
        steps.push_back({ev.insert_ns + ev.wait_ns, ML_REPLAY_DISPATCH, i});
        steps.push_back({std::max(ev.complete_ns, ev.insert_ns + ev.wait_ns),
                         ML_REPLAY_COMPLETE, i});
    }
    std::sort(steps.begin(), steps.end(), [](const Step& a, const Step& b) {
        if (a.time != b.time)
            return a.time < b.time;
        if (a.kind != b.kind)
            return a.kind < b.kind;
        return a.event < b.event;
    });

    ml_tunables t;
    ml_tunables_default(&t);
    ml_dev d;
    ml_dev_init(&d, 1, nullptr, 0);
    u32 in_flight = 0, waiting = 0;
    std::map<u64, std::array<s32, ML_NR_FEATURES>> out;
    for (const Step& s : steps) {
        const auto& ev = events[s.event];
        const bool write = ev.flags & 1;
        switch (s.kind) {
        case ML_REPLAY_COMPLETE:
            ml_completion(&d, &t, ml_cookie(write, false, 0, 100), ev.service_ns, true);
            --in_flight;
            break;
        case ML_REPLAY_ARRIVAL: {
            const ml_req r = request_of(ev, in_flight, waiting);
            std::array<s32, ML_NR_FEATURES> x{};
            ml_features(&d.feat, &r, x.data());
            EXPECT_TRUE(out.emplace(ev.insert_ns, x).second) << "two arrivals at one time";
            ++waiting;
            break;
        }
        case ML_REPLAY_DISPATCH: {
            const ml_req r = request_of(ev, in_flight, waiting);
            if (!ev.wait_ns) {
                ml_dispatched_direct(&d, &r, 100);
            } else {
                ml_choice c{};
                c.queue = ML_Q_EDF;
                c.why = ML_WHY_EDF;
                c.cand.valid = 1;
                c.cand.end_sector = ml_end_sector(r.sector, r.bytes);
                c.cand.write = r.write;
                c.cand.bytes = r.bytes;
                c.pred_us = 100;
                ml_view v{};
                v.now_ns = ev.insert_ns + ev.wait_ns;
                ml_dispatched(&d, &t, &c, &v);
            }
            --waiting;
            ++in_flight;
            break;
        }
        }
    }
    return out;
}

TEST(MlReplayEquivalence, TrainerSeesThePolicysFeatures) {
    const auto events = mixed_trace();
    const auto policy = policy_features(events);
    const ml::Replay replay = ml::replay_trace(events);
    ASSERT_GT(replay.unmeasured, events.size() / 10);
    ASSERT_GT(replay.samples.size(), events.size() * 3 / 4);
    std::size_t writes_seen = 0, volume_seen = 0, direct = 0;
    for (const auto& ev : events)
        direct += ev.wait_ns == 0;
    ASSERT_GT(direct, events.size() / 4);
    ASSERT_LT(direct, events.size() * 3 / 4);
    for (const ml::Sample& s : replay.samples) {
        const auto it = policy.find(s.arrival_ns);
        ASSERT_NE(it, policy.end()) << s.arrival_ns;
        for (int i = 0; i < ML_NR_FEATURES; ++i)
            ASSERT_EQ(s.x[i], it->second[i]) << "feature " << i << " at " << s.arrival_ns;
        writes_seen += s.x[ML_F_WRITES_IN_FLIGHT] > 0;
        volume_seen += s.x[ML_F_WRITE_VOLUME] > 0;
    }
    // The backlog features were not all 0 (which would compare equal for nothing).
    EXPECT_GT(writes_seen, replay.samples.size() / 4);
    EXPECT_GT(volume_seen, replay.samples.size() / 2);
}

} // namespace
} // namespace ufq::test
