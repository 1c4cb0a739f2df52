//! System-call dispatch: decodes the registers by the ABI's convention, runs the call, and
//! encodes the outcome back into the registers. The calls themselves live in the submodules,
//! by subject.

mod connection;
mod console_and_clock;
mod fast_path;
mod handles;
pub mod ipc;
mod memory;
mod synchronization;
pub mod threads;

use crate::arch::frame::SavedRegisters;
use crate::model::Restart;
use crate::scheduler;
use crate::thread::RunState;
use abi::{Call, Error};

/// Runs the call the registers name and writes its outcome into them. `Err(Restart)` when it
/// blocked in the interrupt model: the registers are then left as they were at entry.
#[inline(always)]
pub fn dispatch(registers: &SavedRegisters) -> Result<(), Restart> {
    let (number, [first, second, ..]) = registers.system_call();
    // The calls with more than two arguments read them here, so that the common path does not
    // keep all six alive across the dispatch.
    let arguments = || registers.system_call().1;
    // `Ok(Some(value))` for a call with a result in `rdi`.
    let outcome: Result<Option<u64>, Error> = match Call::from_number(number) {
        None => Err(Error::UnknownCall),
        Some(Call::Null) => Ok(None),
        Some(Call::DebugPrint) => console_and_clock::debug_print(first, second).map(|()| None),
        Some(Call::ThreadExit) => {
            scheduler::end_current(RunState::Exited(first));
            Ok(None)
        }
        Some(Call::ClockMonotonic) => Ok(Some(crate::clock::now())),
        Some(Call::SleepUntil) => Ok(Some(console_and_clock::sleep_until(first)?)),
        Some(Call::HandleClose) => {
            return finish_empty(registers, handles::close(registers, first)?);
        }
        Some(Call::HandleDuplicate) => handles::duplicate(first, second).map(Some),
        Some(Call::HandleInfo) => return finish_with_results(registers, handles::info(first)),
        Some(Call::InvalidationFinish) => {
            return finish_empty(registers, memory::invalidation_finish(first)?);
        }
        Some(Call::IpcDetach) => ipc::detach(first).map(Some),
        Some(Call::SpaceCreate) => handles::create_space(first).map(Some),
        Some(Call::ThreadCreate) => threads::create(first, second, arguments()[2]).map(Some),
        Some(Call::ThreadResume) => threads::resume(first).map(|()| None),
        Some(Call::ThreadInterrupt) => threads::interrupt(first).map(|()| None),
        Some(Call::ThreadGetState) => {
            threads::get_state(first, second, arguments()[2]).map(|()| None)
        }
        Some(Call::ThreadSetState) => {
            threads::set_state(first, second, arguments()[2]).map(|()| None)
        }
        Some(Call::ThreadYield) => {
            scheduler::rotate_current();
            Ok(None)
        }
        Some(Call::ThreadSetPriority) => threads::set_priority(first, second).map(|()| None),
        Some(Call::PortCreate) => ipc::port_create(first).map(Some),
        Some(Call::PortSetCreate) => ipc::port_set_create().map(Some),
        Some(Call::PortSetAdd) => ipc::port_set_add(first, second).map(|()| None),
        Some(Call::IpcSend) => ipc::send(first, {
            let all = arguments();
            [all[1], all[2], all[3], all[4]]
        })
        .map(|()| None),
        Some(Call::IpcCall | Call::IpcConnect) => {
            if fast_path::call(registers) {
                return Ok(());
            }
            return finish(registers, ipc::call(registers, first)?);
        }
        Some(Call::IpcSendMore) => return finish(registers, ipc::send_more(registers, first)?),
        Some(Call::IpcReceiveMore) => {
            return finish(registers, ipc::receive_more(registers, first)?);
        }
        Some(Call::IpcAwaitReply) => return finish(registers, ipc::await_reply(registers, first)?),
        Some(Call::IpcWait) => return finish(registers, ipc::wait(registers, first)?),
        Some(Call::IpcReceive) => return finish(registers, ipc::receive(registers, first)?),
        Some(Call::IpcReply) => {
            let words = {
                let all = arguments();
                [all[1], all[2], all[3], all[4]]
            };
            return finish_empty(registers, ipc::reply(first, words)?);
        }
        Some(Call::IpcReplyWait) => {
            if fast_path::reply_wait(registers) {
                return Ok(());
            }
            return finish(registers, ipc::reply_wait(registers, arguments())?);
        }
        Some(Call::MutexCreate) => synchronization::mutex_create().map(Some),
        Some(Call::MutexTryLock) => synchronization::try_lock(first).map(|()| None),
        Some(Call::MutexUnlock) => synchronization::unlock(first).map(|()| None),
        Some(Call::CondCreate) => synchronization::condition_create().map(Some),
        Some(Call::CondSignal) => synchronization::signal(first, false).map(|()| None),
        Some(Call::CondBroadcast) => synchronization::signal(first, true).map(|()| None),
        Some(Call::MutexLock) => {
            return finish(registers, synchronization::lock(registers, first)?);
        }
        Some(Call::CondWait) => {
            return finish(registers, synchronization::wait(registers, first, second)?);
        }
        Some(Call::HandleGrant) => {
            let all = arguments();
            handles::grant(first, second, all[2], all[3]).map(Some)
        }
        Some(Call::HandleList) => {
            let flags = arguments()[2];
            return finish_with_results(registers, handles::list(first, second, flags));
        }
        Some(Call::PortGetState) => return finish_with_results(registers, ipc::port_state(first)),
        Some(Call::PortSetGetState) => {
            return finish_with_results(registers, ipc::port_set_state(first));
        }
        Some(Call::RegionCreate) => {
            memory::region_create(first, second, arguments()[2], arguments()[3]).map(Some)
        }
        Some(Call::RegionDestroy) => {
            return finish_empty(registers, memory::region_destroy(registers, first)?);
        }
        Some(Call::MappingCreate) => memory::mapping_create(arguments())?.map(Some),
        Some(Call::MappingDestroy) => {
            return finish_empty(registers, memory::mapping_destroy(registers, first)?);
        }
        Some(Call::SpaceDestroy) => return finish_empty(registers, threads::destroy_space(first)?),
        Some(Call::RegionProtect) => {
            return finish_empty(registers, memory::region_protect(registers, first, second)?);
        }
        Some(Call::MappingProtect) => {
            return finish_empty(
                registers,
                memory::mapping_protect(registers, first, second)?,
            );
        }
        Some(Call::RegionResize) => {
            return finish_empty(registers, memory::region_resize(registers, first, second)?);
        }
        Some(Call::MappingMove) => {
            return finish_empty(registers, memory::mapping_move(registers, first, second)?);
        }
        Some(Call::RegionSetState) => {
            let [_, _, rights, keeper, _, _] = arguments();
            let outcome = memory::region_set_state(registers, first, second, rights, keeper)?;
            return finish_empty(registers, outcome);
        }
        Some(Call::MappingSetState) => {
            let outcome = memory::mapping_set_state(registers, first, second, arguments()[2])?;
            return finish_empty(registers, outcome);
        }
        Some(Call::RegionGetState) => {
            return finish_with_results(registers, memory::region_get_state(first, second));
        }
        Some(Call::MappingGetState) => {
            return finish_with_results(registers, memory::mapping_get_state(first, second));
        }
        Some(Call::MemorySearch) => {
            return finish_with_results(registers, memory::search(first, second));
        }
        Some(Call::ThreadSetKeeper) => threads::set_keeper(first, second).map(|()| None),
        Some(Call::ThreadStatus) => return finish_with_results(registers, threads::status(first)),
    };
    match outcome {
        Ok(None) => registers.complete_system_call(0, &[]),
        Ok(Some(result)) => registers.complete_system_call(0, &[result]),
        Err(error) => registers.complete_system_call(error.code(), &[]),
    }
    Ok(())
}

/// Whether the flags of a state call (`abi::state::flags`) ask for handles; `InvalidArgument`
/// for unknown bits.
fn wants_handles(flags: u64) -> Result<bool, Error> {
    use abi::state::flags::HANDLES;
    if flags & !HANDLES != 0 {
        return Err(Error::InvalidArgument);
    }
    Ok(flags & HANDLES != 0)
}

/// The object the calling thread's `handle` names, as the type `convert` accepts, if the
/// handle carries `needed`: the one lookup every call makes in its caller's own table.
#[inline]
fn object<T>(
    handle: u64,
    needed: abi::Rights,
    convert: fn(&crate::object::KernelObject) -> Result<T, Error>,
) -> Result<T, Error> {
    object_in(&scheduler::current().space, handle, needed, convert)
}

/// [`object`] for a call that already holds its caller's space (and so spares looking up
/// the running thread again).
#[inline]
fn object_in<T>(
    own: &crate::space::Space,
    handle: u64,
    needed: abi::Rights,
    convert: fn(&crate::object::KernelObject) -> Result<T, Error>,
) -> Result<T, Error> {
    own.typed(abi::Handle::from_raw(handle), needed, convert)
}

/// Ends a call without results: its status.
fn finish_empty(registers: &SavedRegisters, outcome: Result<(), Error>) -> Result<(), Restart> {
    registers.complete_system_call(outcome.err().map_or(0, Error::code), &[]);
    Ok(())
}

/// Ends a call with several results, or with its error.
fn finish_with_results(
    registers: &SavedRegisters,
    outcome: Result<impl AsRef<[u64]>, Error>,
) -> Result<(), Restart> {
    match outcome {
        Ok(results) => registers.complete_system_call(0, results.as_ref()),
        Err(error) => registers.complete_system_call(error.code(), &[]),
    }
    Ok(())
}

/// Ends a call that wrote its own results (`Ok`), or writes its error.
fn finish(registers: &SavedRegisters, outcome: Result<(), Error>) -> Result<(), Restart> {
    if let Err(error) = outcome {
        registers.complete_system_call(error.code(), &[]);
    }
    Ok(())
}
