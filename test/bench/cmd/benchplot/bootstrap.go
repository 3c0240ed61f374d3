package main

// bootstrapDesign is the report's section on how a starting gencluster
// node joins, and the measurements that chose it (issue 12). It is text,
// not a measurement of this run: the figures it quotes come from the
// exploratory runs it names.
const bootstrapDesign = `## 6. Bootstrap: how a starting node joins, and why

memberlist does the gossip, the probes and the push-pulls; what gencluster decides is which discovered addresses to join, how many at a time, and when to look again. These are the refresh loop's rules (the loop runs the initial join inside Start, then every pass after it):

1. **Join one peer at a time while joins succeed; several at a time only after a failure.** One successful join is a full push-pull with a member, which brings in the whole cluster behind it; the remaining discovered addresses are then mostly members and are skipped. Joining four at once (the previous behaviour) mostly pushed and pulled states that added nothing, and in a join storm those redundant full-state exchanges, each compressed and decoded, all land at once. After the first failure the rest go 4 at a time, so that dead addresses (which fail only after TCPTimeout) do not hold up the others.
2. **Look again soon after a pass that grew the view.** A pass that brought in new members means discovery listed peers the cluster did not have: a join storm or a rollout is under way and more are coming. The next discovery then runs 100 ms later; passes that add nobody double the gap (100 ms, 200 ms, 400 ms, ...) back up to the refresh interval. The previous warm-up only doubled from Start, so a node whose early passes were busy could wait 800 ms or more for the last newcomers.
3. **Leave a member that has just been declared failed to memberlist.** A member that was live less than one refresh interval ago and is now failed is not re-joined at once: memberlist goes on gossiping to it for GossipToTheDeadTime, and a live member refutes its own death. Re-joining it at once only added full push-pulls to a cluster that was overloaded (which is when false failures happen), and fed the overload. One interval later it is joined again, which is what heals a partition.
4. **Two bugs fixed on the way** (the second also found by the real-DNS suite, docs/realpeers.md): an address whose join failed and that later became a member by gossip kept its retry time for ever, in the past, so the loop woke every millisecond for a pass with nothing to do; and passes between discoveries now only retry addresses that failed (they joined every non-member address, e.g. the second address of a dual-stack member, on every wake-up).

A refused join (a seed at memberlist's limit of 128 concurrent push-pulls closes the stream, and the joiner reads EOF) is retried like any failed join: exponential backoff from 500 ms with jitter (a delay between half and all of it), capped at the refresh interval. In virtual time no gencluster node was ever refused, at any N: its joins go to random discovered peers, never all to one seed.

**The measurements that chose them.** Exploratory runs, on the same 2-core machine shared with other jobs (load average 7 to 20), one change at a time:

| change | measurement | before | after |
|---|---|---|---|
| rule 2 | virtual time, N = 200 starting over 500 ms (` + "`-spread 500ms`" + `), slowest node | 898 ms | 624 ms |
| rule 3 | loopback, N = 150, simultaneous start: slowest node / false failures (one run before, three after) | not converged in 30 s / 6,707 | 2.3 s / 0; 11.6 s / 1,142; 2.6 s / 0 |
| rule 1, on top of rule 3 | the same (two runs; memberlist in the same minutes: 1.50 s, 1.56 s) | rule 3 alone, the row above | 3.75 s / 0; 1.56 s / 0 |
| rule 1 | virtual time, N = 100, push-pulls during the start | about 710 | about 470 |

What the loopback profile showed (gencluster, N = 150, 30 s, the run that did not converge): the CPU went to memberlist's gossip (compression 18 %, decoding alive messages 10 %, the broadcast queue 7 %) and to push-pulls (8 %); nothing of gencluster's own (discovery, events, logging) took more than 1.5 %. The difference from the baseline was not work per node but what gencluster asked memberlist to do while the machine was saturated: parallel redundant joins at the start, and re-joins of every member as soon as it was (falsely) declared failed.

The previous report also tried more push-pulls at start (with 3 peers, or one per warm-up step); they made no difference beyond the noise and were not kept. Joining every discovered address, as the baseline does, costs N push-pulls per node (N² in a storm, each carrying the whole state): it wins at a few dozen nodes on loopback and is what overloads the large ones.

`
