//! Removing the page-table entries derived from memory that changed or went away, in bounded
//! steps (DESIGN.md sections 3 and 4).
//!
//! Revoking memory reaches every entry derived from it: the entries of the space that changed,
//! then those of every mapping that shows part of it, and so up the chains. How much that is
//! depends on what users made (how many pages are present, how many mappings a region has, how
//! many regions a range holds), so the work is cut into steps, each bounded, kept in a list of
//! the space whose change caused it. A call that changes memory makes the change, queues its
//! first steps, moves its registers to its last stage (`InvalidationFinish` on the same
//! object) and works through the list; in a partially preemptible kernel it stops at a
//! preemption point between two steps and is re-issued as that stage, which goes on with what
//! the list still holds and never makes the change twice. Until the list is empty the call has
//! not returned; a thread of the same space that changes memory meanwhile helps finish the
//! list, and a thread that ends instead of re-issuing its call finishes what it left (see
//! `Thread::end`), as does its next memory call.
//!
//! What a change took away stays where walks find it until the last step derived from it is
//! done: a destroyed region in its space's regions, a destroyed mapping in its region's list,
//! the part of a region a shrink gave up in its extent, the window a moved mapping showed
//! before (its `moved_from`, until `MoveDone`). A revocation further down that runs
//! meanwhile, from another list, thus still reaches every entry derived through them, whatever
//! became of the list that removes them. The steps are ordered so: a list is a stack, and the
//! step that forgets an object is queued before the steps that remove its entries, so it runs
//! after them and after everything they queue.
//!
//! Every step is idempotent (removing an entry twice removes it once), so steps may overlap:
//! the mappings of a region are visited from the last index to the first, and a mapping that
//! leaves the list meanwhile only moves the last one down into its place, so none is skipped
//! (one may be visited twice).

use crate::arch::lock::Lock;
use crate::model::{self, Restart};
use crate::scheduler;
use crate::space::Space;
use crate::virtual_memory::{CHAIN_LIMIT, Mapping, Region};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use region::PageRange;

/// The page entries one step removes at most (a whole table counts 512).
const ENTRIES_PER_STEP: usize = 512;

/// The mappings of a region, or the regions of a space, one step visits at most.
const MAPPINGS_PER_STEP: usize = 4;

/// One bounded piece of invalidation work.
pub enum Step {
    /// Remove the entries of `range` in `space`, then reach the mappings that show them.
    Unmap {
        space: Weak<Space>,
        range: PageRange,
        /// How many links above the change this space is.
        depth: usize,
    },
    /// Reach the regions of `space` that start below `below` and export part of `changed`.
    Regions {
        space: Weak<Space>,
        changed: PageRange,
        depth: usize,
        below: u64,
    },
    /// Reach the mappings of `region` below index `below` that show part of `changed`.
    Above {
        region: Weak<Region>,
        changed: PageRange,
        depth: usize,
        below: usize,
    },
    /// Destroy the mappings of a destroyed region below index `below`.
    DestroyMappings { region: Weak<Region>, below: usize },
    /// Take a destroyed mapping out of its region's list: everything derived through it is
    /// gone. (It keeps the mapping alive until then, so that walks of its region's list still
    /// find it when its last handle is closed meanwhile.)
    Forget { mapping: Arc<Mapping> },
    /// Take a destroyed region out of its space: its mappings are gone.
    RemoveRegion { region: Weak<Region> },
    /// A shrink of `region` is done: walks may stop looking past its size.
    Shrunk { region: Weak<Region> },
    /// The entries a moved mapping made through its old window are gone: revocations from
    /// below need no longer reach them through it.
    MoveDone {
        mapping: Weak<Mapping>,
        from: region::Window,
    },
    /// Destroy one more piece of a space whose last handle was closed (this step holds the
    /// last reference to it); the space goes, emptied, with the last such step.
    DestroySpace { space: Arc<Space> },
}

/// The invalidation work left by the changes to one space's memory.
#[derive(Default)]
pub struct Pending(Lock<Vec<Step>>);

impl Pending {
    /// Adds a piece of work.
    pub fn push(&self, step: Step) {
        self.0.lock().push(step);
    }

    /// Whether any work is left.
    pub fn is_empty(&self) -> bool {
        self.0.lock().is_empty()
    }

    /// Does one step (for a caller with preemption points of its own between steps); whether
    /// work is left.
    pub fn step(&self) -> bool {
        let step = self.0.lock().pop();
        if let Some(step) = step {
            // The step queues what follows from it; the list is not held meanwhile (a step
            // reaches other spaces, and frees what it removes).
            run(step, &mut |next| self.push(next));
        }
        !self.0.lock().is_empty()
    }

    /// Does all the work, without preemption: for callers that cannot be re-issued (a
    /// handle closed with its space, an object dropped).
    pub fn finish(&self) {
        while self.step() {}
    }

    /// Does all the work through preemption points: `Err(Restart)` when preempted, and the
    /// call is re-issued, finding the rest here.
    pub fn finish_preemptibly(&self) -> Result<(), Restart> {
        while self.step() {
            if model::preemption_point() {
                model::preempt_here()?;
            }
        }
        Ok(())
    }
}

impl Pending {
    /// Takes all the work out (a space that goes hands it on).
    pub fn take_all(&self) -> Pending {
        Pending(Lock::new(core::mem::take(&mut *self.0.lock())))
    }
}

/// Does `steps` (the last runs first) to their end, without preemption, for a caller that
/// cannot be re-issued (a handle closed, a space that goes, a mapping that moves): in a list
/// of their own, so that the caller does its own work only.
pub fn finish(steps: Vec<Step>) {
    if steps.is_empty() {
        return;
    }
    let alone = Pending::default();
    for step in steps {
        alone.push(step);
    }
    alone.finish();
}

/// Does all the work pending on `origin`'s list, without preemption (a thread that ends
/// instead of re-issuing the call that left it).
pub fn finish_pending_at_once(origin: &Weak<Space>) {
    if let Some(origin) = origin.upgrade() {
        origin.invalidations.finish();
    }
}

/// Does the work pending on `space`'s list through preemption points, for a call that is
/// about to look at the space's page tables and has changed nothing yet (preempted, it is
/// re-issued as it is): entries that a stopped call left to remove must not be taken for the
/// space's own.
pub fn finish_pending(space: &Arc<Space>) -> Result<(), Restart> {
    if space.invalidations.is_empty() {
        return Ok(());
    }
    finish_preemptibly(&Arc::downgrade(space), Vec::new())
}

/// [`finish`] through preemption points, for a system call that is re-issued when preempted.
/// While the call is away, its thread remembers the work it left: should the thread end
/// instead of re-issuing its call, its end finishes the work (a revocation is never left half
/// done for good), and its next memory call finishes it first ([`finish_left_work`]).
pub fn finish_preemptibly(origin: &Weak<Space>, steps: Vec<Step>) -> Result<(), Restart> {
    let Some(space) = origin.upgrade() else {
        finish(steps);
        return Ok(());
    };
    for step in steps {
        space.invalidations.push(step);
    }
    let outcome = space.invalidations.finish_preemptibly();
    if outcome.is_err() {
        remember_left_work(origin);
    }
    outcome
}

/// Records, for the running thread preempted in an operation on `origin` (which a re-issue
/// would go on with), the work it leaves.
pub fn remember_left_work(origin: &Weak<Space>) {
    *scheduler::current().unfinished_invalidation.lock() = Some(origin.clone());
}

/// Finishes, through preemption points, the work the running thread's last preempted call
/// left, if any: first thing in every call that changes memory, so that a re-issued call
/// that now fails (its handle was closed meanwhile, say) still leaves nothing half done.
pub fn finish_left_work() -> Result<(), Restart> {
    let left = scheduler::current().unfinished_invalidation.lock().take();
    match left {
        Some(origin) => finish_preemptibly(&origin, Vec::new()),
        None => Ok(()),
    }
}

/// Does one step, handing what follows from it to `queue`.
fn run(step: Step, queue: &mut dyn FnMut(Step)) {
    match step {
        Step::Unmap {
            space,
            range,
            depth,
        } => {
            let Some(space) = space.upgrade() else {
                return;
            };
            let done = match space.unmap(range, ENTRIES_PER_STEP) {
                Some(stopped) => {
                    let (done, rest) = range.split_at(stopped);
                    if let Some(rest) = rest {
                        queue(Step::Unmap {
                            space: Arc::downgrade(&space),
                            range: rest,
                            depth,
                        });
                    }
                    done
                }
                None => Some(range),
            };
            let Some(done) = done else {
                return;
            };
            if depth >= CHAIN_LIMIT {
                return;
            }
            queue(Step::Regions {
                space: Arc::downgrade(&space),
                changed: done,
                depth,
                below: u64::MAX,
            });
        }
        Step::Regions {
            space,
            changed,
            depth,
            below,
        } => {
            let Some(space) = space.upgrade() else {
                return;
            };
            let regions = space.regions_overlapping_below(&changed, below, MAPPINGS_PER_STEP);
            if regions.len() == MAPPINGS_PER_STEP
                && let Some(lowest) = regions.last()
            {
                queue(Step::Regions {
                    space: Arc::downgrade(&space),
                    changed,
                    depth,
                    below: lowest.range().start(),
                });
            }
            for region in regions {
                let below = region.mappings.lock().len();
                queue(Step::Above {
                    region: Arc::downgrade(&region),
                    changed,
                    depth,
                    below,
                });
            }
        }
        Step::Above {
            region,
            changed,
            depth,
            below,
        } => {
            let Some(region) = region.upgrade() else {
                return;
            };
            let (mappings, rest) = batch_below(&region, below);
            if let Some(below) = rest {
                queue(Step::Above {
                    region: Arc::downgrade(&region),
                    changed,
                    depth,
                    below,
                });
            }
            for mapping in mappings {
                let Some(target) = mapping.space.upgrade() else {
                    continue;
                };
                for affected in mapping.affected_by(&changed).into_iter().flatten() {
                    queue(Step::Unmap {
                        space: Arc::downgrade(&target),
                        range: affected,
                        depth: depth + 1,
                    });
                }
            }
        }
        Step::DestroyMappings { region, below } => {
            let Some(region) = region.upgrade() else {
                return;
            };
            let (mappings, rest) = batch_below(&region, below);
            if let Some(below) = rest {
                queue(Step::DestroyMappings {
                    region: Arc::downgrade(&region),
                    below,
                });
            }
            // Their region's list goes whole when they are all done (`RemoveRegion`). A mapping
            // destroyed already may still have steps waiting on another list: its entries are
            // removed here too (removing twice is harmless), so that none outlives this call.
            for mapping in mappings {
                mapping
                    .end_with_its_region()
                    .into_iter()
                    .flatten()
                    .for_each(&mut *queue);
            }
        }
        Step::Forget { mapping } => mapping.forget(),
        Step::DestroySpace { space } => {
            // No thread runs in it (each thread holds its space), so no thread is to end.
            if !space.destroy_step(|thread| thread.end(abi::state::KILLED)) {
                queue(Step::DestroySpace { space });
            }
        }
        Step::MoveDone { mapping, from } => {
            if let Some(mapping) = mapping.upgrade() {
                mapping.move_done(from);
            }
        }
        Step::Shrunk { region } => {
            if let Some(region) = region.upgrade() {
                region.shrink_done();
            }
        }
        Step::RemoveRegion { region } => {
            let Some(region) = region.upgrade() else {
                return;
            };
            if let Some(space) = region.space.upgrade() {
                space.remove_region(&region);
            }
            let listed = core::mem::take(&mut *region.mappings.lock());
            drop(listed);
        }
    }
}

/// The live mappings of `region` among the last [`MAPPINGS_PER_STEP`] below index `below`, and
/// the index to go on below, if any are left.
fn batch_below(region: &Region, below: usize) -> (Vec<Arc<Mapping>>, Option<usize>) {
    let list = region.mappings.lock();
    let end = below.min(list.len());
    let start = end.saturating_sub(MAPPINGS_PER_STEP);
    let batch = list[start..end].iter().filter_map(Weak::upgrade).collect();
    (batch, (start > 0).then_some(start))
}
