//! Safe, typed wrappers for every system call (see `kernel/abi/SPEC.md`).

use crate::arch::syscall::{call0, call3};
use abi::state::{Condition, THREAD_STATE_SIZE, ThreadState, flags};
use abi::{Call, Error, Handle, Rights};

/// `Null`: does nothing; the cost floor of a system call.
#[inline(always)]
pub fn null() -> Result<(), Error> {
    Error::check(call0(Call::Null))
}

/// `DebugPrint`: writes bytes (at most `abi::registers::DEBUG_PRINT_MAX`) to the kernel's
/// debug console.
pub fn debug_print(bytes: &[u8]) -> Result<(), Error> {
    let returned = call3(
        Call::DebugPrint,
        bytes.as_ptr() as u64,
        bytes.len() as u64,
        0,
    );
    Error::check(returned.status)
}

/// `DebugPrint` with an arbitrary address and length, for tests of the kernel's checks: the
/// kernel validates both, so no value can make it touch memory it should not.
pub fn debug_print_raw(address: u64, length: u64) -> Result<(), Error> {
    Error::check(call3(Call::DebugPrint, address, length, 0).status)
}

/// `ThreadExit`: ends the calling thread.
pub fn thread_exit(status: u64) -> ! {
    call3(Call::ThreadExit, status, 0, 0);
    // The kernel never returns from ThreadExit; if it did, stop here rather than run on.
    loop {
        core::hint::spin_loop();
    }
}

/// `ClockMonotonic`: nanoseconds since boot, in steps of `abi::registers::CLOCK_TICK_NANOSECONDS`.
pub fn clock_monotonic() -> u64 {
    call3(Call::ClockMonotonic, 0, 0, 0).results[0]
}

/// `SleepUntil`: blocks until the monotonic clock reaches `deadline` (nanoseconds).
pub fn sleep_until(deadline: u64) -> Result<(), Error> {
    Error::check(call3(Call::SleepUntil, deadline, 0, 0).status)
}

/// `SleepUntil`, returning the time stamp (`rdtsc`) at which the timer interrupt that ended
/// the sleep was raised: reading the counter on return gives the wake-up latency.
pub fn sleep_until_measured(deadline: u64) -> Result<u64, Error> {
    status(call3(Call::SleepUntil, deadline, 0, 0))
}

fn status(returned: crate::arch::syscall::Returned) -> Result<u64, Error> {
    Error::check(returned.status).map(|()| returned.results[0])
}

/// `HandleClose`.
pub fn handle_close(handle: Handle) -> Result<(), Error> {
    status(call3(Call::HandleClose, handle.raw(), 0, 0)).map(drop)
}

/// `HandleDuplicate`: a new handle with `rights` (a subset of the original's).
pub fn handle_duplicate(handle: Handle, rights: Rights) -> Result<Handle, Error> {
    status(call3(
        Call::HandleDuplicate,
        handle.raw(),
        rights.bits() as u64,
        0,
    ))
    .map(Handle::from_raw)
}

/// `HandleInfo`: the kind of object a handle names, its rights, and the object's identity
/// (the same through every handle to it).
pub fn handle_info(handle: Handle) -> Result<abi::handle::HandleInfo, Error> {
    let (status, results) =
        crate::arch::syscall::call6(Call::HandleInfo, [handle.raw(), 0, 0, 0, 0, 0]);
    Error::check(status)?;
    abi::handle::HandleInfo::from_results([results[0], results[1], results[2]])
        .ok_or(Error::InvalidArgument)
}

/// `HandleDuplicate` with raw rights bits, for tests of the kernel's checks.
pub fn handle_duplicate_raw(handle: Handle, rights: u64) -> Result<Handle, Error> {
    status(call3(Call::HandleDuplicate, handle.raw(), rights, 0)).map(Handle::from_raw)
}

/// `HandleGrant`: a handle with `rights` (a subset of the original's, which needs `TRANSFER`)
/// to the same object in `space`'s table; returns its value there.
pub fn handle_grant(space: Handle, handle: Handle, rights: Rights) -> Result<Handle, Error> {
    handle_grant_at(space, handle, rights, Handle::NONE)
}

/// `HandleGrant` at exactly the handle value `at` in `space`'s table (a free slot, at most 64
/// past the table's end; `Handle::NONE` for any free slot): how a restorer gives a rebuilt
/// space its handles back.
pub fn handle_grant_at(
    space: Handle,
    handle: Handle,
    rights: Rights,
    at: Handle,
) -> Result<Handle, Error> {
    let (status, results) = crate::arch::syscall::call6(
        Call::HandleGrant,
        [
            space.raw(),
            handle.raw(),
            rights.bits() as u64,
            at.raw(),
            0,
            0,
        ],
    );
    Error::check(status).map(|()| Handle::from_raw(results[0]))
}

/// A handle `HandleList` found in a space's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListedHandle {
    /// Its value in that space.
    pub handle: Handle,
    /// What it names, and its rights.
    pub info: abi::handle::HandleInfo,
    /// A copy in the caller's table (with TRANSFER and DUPLICATE added), if one was asked for.
    pub copy: Handle,
}

/// `HandleList`: the first live handle of `space` at slot `index` or after (`None` past the
/// last), with a copy in the caller's table if `copy` (which needs CONTROL on the space).
pub fn handle_list(space: Handle, index: u32, copy: bool) -> Result<Option<ListedHandle>, Error> {
    let flags = if copy { flags::HANDLES } else { 0 };
    let (status, results) = crate::arch::syscall::call6(
        Call::HandleList,
        [space.raw(), u64::from(index), flags, 0, 0, 0],
    );
    Error::check(status)?;
    if results[0] == 0 {
        return Ok(None);
    }
    let info = abi::handle::HandleInfo::from_results([results[1], results[2], results[3]])
        .ok_or(Error::InvalidArgument)?;
    Ok(Some(ListedHandle {
        handle: Handle::from_raw(results[0]),
        info,
        copy: Handle::from_raw(results[4]),
    }))
}

/// `SpaceDestroy`: ends every thread of `space` and empties it.
pub fn space_destroy(space: Handle) -> Result<(), Error> {
    status(call3(Call::SpaceDestroy, space.raw(), 0, 0)).map(drop)
}

/// `SpaceCreate`: an empty space with `quota` bytes of kernel memory.
pub fn space_create(quota: u64) -> Result<Handle, Error> {
    status(call3(Call::SpaceCreate, quota, 0, 0)).map(Handle::from_raw)
}

/// `ThreadCreate`: a stopped thread in `space` with `state` (its handle fields ignored).
pub fn thread_create(space: Handle, state: &ThreadState) -> Result<Handle, Error> {
    thread_create_flags(space, state, 0)
}

/// `ThreadCreate` that also attaches the objects the state's handle fields name
/// (`state::flags::HANDLES`): a thread restored from a state saved with its handles.
pub fn thread_create_with_handles(space: Handle, state: &ThreadState) -> Result<Handle, Error> {
    thread_create_flags(space, state, flags::HANDLES)
}

fn thread_create_flags(space: Handle, state: &ThreadState, flags: u64) -> Result<Handle, Error> {
    let bytes = state.to_bytes();
    status(call3(
        Call::ThreadCreate,
        space.raw(),
        bytes.as_ptr() as u64,
        flags,
    ))
    .map(Handle::from_raw)
}

/// `ThreadCreate` with a raw state address, for tests of the kernel's checks.
pub fn thread_create_raw(space: Handle, state_address: u64) -> Result<Handle, Error> {
    status(call3(Call::ThreadCreate, space.raw(), state_address, 0)).map(Handle::from_raw)
}

/// `ThreadResume`.
pub fn thread_resume(thread: Handle) -> Result<(), Error> {
    status(call3(Call::ThreadResume, thread.raw(), 0, 0)).map(drop)
}

/// `ThreadInterrupt`.
pub fn thread_interrupt(thread: Handle) -> Result<(), Error> {
    status(call3(Call::ThreadInterrupt, thread.raw(), 0, 0)).map(drop)
}

/// `ThreadGetState` (its handle fields left 0).
pub fn thread_get_state(thread: Handle) -> Result<ThreadState, Error> {
    thread_get_state_flags(thread, 0)
}

/// `ThreadGetState` that also puts handles to the objects the thread depends on into this
/// program's table (`state::flags::HANDLES`); the caller closes them.
pub fn thread_get_state_with_handles(thread: Handle) -> Result<ThreadState, Error> {
    thread_get_state_flags(thread, flags::HANDLES)
}

fn thread_get_state_flags(thread: Handle, flags: u64) -> Result<ThreadState, Error> {
    let mut bytes = [0u8; THREAD_STATE_SIZE];
    status(call3(
        Call::ThreadGetState,
        thread.raw(),
        bytes.as_mut_ptr() as u64,
        flags,
    ))?;
    Ok(ThreadState::from_bytes(&bytes))
}

/// `ThreadGetState` into a raw address, for tests of the kernel's checks. The kernel writes
/// only to memory this program may write, and `THREAD_STATE_SIZE` bytes at most.
pub fn thread_get_state_raw(thread: Handle, buffer: u64) -> Result<(), Error> {
    status(call3(Call::ThreadGetState, thread.raw(), buffer, 0)).map(drop)
}

/// `ThreadSetState` (the state's handle fields ignored).
pub fn thread_set_state(thread: Handle, state: &ThreadState) -> Result<(), Error> {
    thread_set_state_flags(thread, state, 0)
}

/// `ThreadSetState` that also attaches the objects the state's handle fields name, or none
/// where they are 0 (`state::flags::HANDLES`).
pub fn thread_set_state_with_handles(thread: Handle, state: &ThreadState) -> Result<(), Error> {
    thread_set_state_flags(thread, state, flags::HANDLES)
}

fn thread_set_state_flags(thread: Handle, state: &ThreadState, flags: u64) -> Result<(), Error> {
    let bytes = state.to_bytes();
    status(call3(
        Call::ThreadSetState,
        thread.raw(),
        bytes.as_ptr() as u64,
        flags,
    ))
    .map(drop)
}

/// `ThreadYield`.
pub fn thread_yield() {
    call0(Call::ThreadYield);
}

/// `ThreadSetPriority`.
pub fn thread_set_priority(thread: Handle, priority: u64) -> Result<(), Error> {
    status(call3(Call::ThreadSetPriority, thread.raw(), priority, 0)).map(drop)
}

/// `ThreadStatus`: what the thread is doing, with the exit status or fault detail.
pub fn thread_status(thread: Handle) -> Result<(Condition, u64, u64), Error> {
    let returned = call3(Call::ThreadStatus, thread.raw(), 0, 0);
    Error::check(returned.status)?;
    let [condition, detail, address] = returned.results;
    let condition = Condition::from_code(condition).ok_or(Error::InvalidArgument)?;
    Ok((condition, detail, address))
}

/// `ThreadSetKeeper`: where the thread's CPU exceptions go (`None`: nowhere).
pub fn thread_set_keeper(thread: Handle, keeper: Option<Handle>) -> Result<(), Error> {
    let keeper = keeper.map_or(0, Handle::raw);
    status(call3(Call::ThreadSetKeeper, thread.raw(), keeper, 0)).map(drop)
}
