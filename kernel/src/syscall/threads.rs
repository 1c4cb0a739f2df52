//! Threads: `ThreadCreate`, `ThreadResume`, `ThreadInterrupt`, `ThreadGetState`,
//! `ThreadSetState`, `ThreadSetPriority`.

use super::{object, object_in, wants_handles};
use crate::arch::thread_state;
use crate::ipc::{Port, Reply, hold_connection, release_connection};
use crate::model;
use crate::object::KernelObject;
use crate::scheduler;
use crate::thread::{RunState, SegmentBases, Thread};
use crate::user_pointer::UserSlice;
use crate::wait::{BlockingResult, or_return_error};
use abi::handle::ConnectionSide;
use abi::registers::PRIORITY_MAX;
use abi::state::{Condition, THREAD_STATE_SIZE, ThreadState};
use abi::{Error, Handle, Rights};
use alloc::sync::{Arc, Weak};

/// The thread a handle of the caller's names, if the handle carries `needed`.
fn thread_of(handle: u64, needed: Rights) -> Result<Arc<Thread>, Error> {
    object(handle, needed, KernelObject::to_thread)
}

/// Reads a `ThreadState` from user memory.
fn read_state(address: u64) -> Result<ThreadState, Error> {
    let size = THREAD_STATE_SIZE as u64;
    let mut bytes = [0u8; THREAD_STATE_SIZE];
    UserSlice::new(address, size, size)?.read_into(&mut bytes)?;
    Ok(ThreadState::from_bytes(&bytes))
}

/// Loads a checked state into a thread that is not running.
fn apply_state(thread: &Arc<Thread>, state: &ThreadState) -> Result<(), Error> {
    let (frame, fpu) = thread_state::from_state(state)?;
    crate::fpu::set_state(thread, fpu)?;
    thread.registers.update(|registers| *registers = frame);
    thread.segment_bases.store(SegmentBases {
        fs: state.fs_base,
        gs: state.gs_base,
    });
    Ok(())
}

/// The keeper a state names, for `flags::HANDLES`: a port handle with SEND in the caller's
/// table, or 0 for none.
fn keeper_named(state: &ThreadState) -> Result<Option<Arc<Port>>, Error> {
    match state.keeper {
        0 => Ok(None),
        handle => object(handle, Rights::SEND, KernelObject::to_port).map(Some),
    }
}

/// Whether the space a state names (for `flags::HANDLES`) may be `space`'s: none, or a handle
/// of the caller's to that very space (with any rights). A thread never changes spaces.
fn check_space_named(state: &ThreadState, space: &Arc<crate::space::Space>) -> Result<(), Error> {
    if state.space == 0 {
        return Ok(());
    }
    let named = object(state.space, Rights::empty(), KernelObject::to_space)?;
    if Arc::ptr_eq(&named, space) {
        Ok(())
    } else {
        Err(Error::InvalidArgument)
    }
}

/// The connections a state names (for `flags::HANDLES`), client side then server side: handles
/// of the caller's with RECEIVE to the matching side of a reply object, or 0 for none.
fn connections_named(state: &ThreadState) -> Result<[Option<Arc<Reply>>; 2], Error> {
    let named = |handle: u64, convert: fn(&KernelObject) -> Result<Arc<Reply>, Error>| match handle
    {
        0 => Ok(None),
        handle => object(handle, Rights::RECEIVE, convert).map(Some),
    };
    Ok([
        named(state.client_connection, KernelObject::to_reply_receiver)?,
        named(state.server_connection, KernelObject::to_reply_sender)?,
    ])
}

/// Makes `thread` hold the connections a state named (and no others).
fn attach_connections(thread: &Thread, connections: [Option<Arc<Reply>>; 2]) {
    let sides = [ConnectionSide::Client, ConnectionSide::Server];
    for (side, connection) in sides.into_iter().zip(connections) {
        match connection {
            Some(reply) => hold_connection(thread, side, reply),
            None => release_connection(thread, side),
        }
    }
}

/// The handles `ThreadGetState` puts in the caller's table, closed again if the call fails
/// after all (the caller would never learn their values).
struct Exported<'a> {
    space: &'a Arc<crate::space::Space>,
    handles: alloc::vec::Vec<Handle>,
}

impl Exported<'_> {
    /// A new handle to `object` with `rights`; its value.
    fn add(&mut self, object: KernelObject, rights: Rights) -> Result<u64, Error> {
        let handle = self.space.insert_handle(object, rights)?;
        self.handles.push(handle);
        Ok(handle.raw())
    }

    /// Closes every handle made.
    fn undo(self) {
        for handle in self.handles {
            let _ = self.space.close_handle(handle);
        }
    }
}

/// `ThreadCreate`: a stopped thread with the caller's priority.
pub fn create(space: u64, state_address: u64, flags: u64) -> Result<u64, Error> {
    let import = wants_handles(flags)?;
    let caller = scheduler::current();
    let target = object_in(&caller.space, space, Rights::CREATE, KernelObject::to_space)?;
    let state = read_state(state_address)?;
    let (frame, _) = thread_state::from_state(&state)?;
    if import {
        check_space_named(&state, &target)?;
    }
    let keeper = if import { keeper_named(&state)? } else { None };
    let connections = if import {
        connections_named(&state)?
    } else {
        [None, None]
    };
    let thread = Thread::new(target, frame, caller.priority(), false)?;
    *thread.keeper.lock() = keeper.as_ref().map(Arc::downgrade);
    apply_state(&thread, &state)?;
    attach_connections(&thread, connections);
    caller
        .space
        .insert_handle(KernelObject::Thread(thread), Rights::all())
        .map(Handle::raw)
}

/// `ThreadResume`.
pub fn resume(handle: u64) -> Result<(), Error> {
    let thread = thread_of(handle, Rights::CONTROL)?;
    if thread.run_state() != RunState::Stopped {
        return Err(Error::InvalidState);
    }
    thread
        .fault_sequence
        .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    scheduler::make_ready(thread);
    Ok(())
}

/// `ThreadInterrupt`.
pub fn interrupt(handle: u64) -> Result<(), Error> {
    stop(&thread_of(handle, Rights::CONTROL)?)
}

/// `SpaceDestroy`: ends every thread of the space and empties it. A space cannot destroy
/// itself (its caller would end in the middle of the call).
pub fn destroy_space(handle: u64) -> BlockingResult {
    let caller = scheduler::current();
    let space = or_return_error!(object_in(
        &caller.space,
        handle,
        Rights::CONTROL,
        KernelObject::to_space
    ));
    if Arc::ptr_eq(&space, &caller.space) {
        return Ok(Err(Error::InvalidState));
    }
    drop(caller);
    destroy_in_steps(&space)?;
    Ok(Ok(()))
}

/// Destroys what `space` holds (its threads, handles, regions and mappings), a piece at a
/// time, with a preemption point between any two pieces: preempted, the call is re-issued
/// and goes on with what is left (`Space::destroy_step` takes the pieces in order and marks
/// the space destroyed, so nothing new comes in).
fn destroy_in_steps(space: &Arc<crate::space::Space>) -> Result<(), model::Restart> {
    let own_list = Arc::downgrade(space);
    let end = |thread: &Arc<Thread>| {
        let _ = stop(thread);
        // A faulted thread may still wait in its keeper's queue.
        crate::wait::withdraw(thread);
        // Work that a call of the thread left on this space's list is done a step at a time
        // with the rest of the space (`Space::destroy_step`), not all at once by its end.
        let mut left = thread.unfinished_invalidation.lock();
        if left
            .as_ref()
            .is_some_and(|origin| Weak::ptr_eq(origin, &own_list))
        {
            *left = None;
        }
        drop(left);
        thread.end(abi::state::KILLED);
    };
    // A space with many objects takes long to empty: between pieces, a preemption point lets
    // a due thread run; the call is then re-issued and goes on with what is left.
    while !space.destroy_step(end) {
        if model::preemption_point() {
            // Should this thread end instead of going on, its end finishes the invalidations
            // the pieces taken so far queued (the pieces not taken are whole).
            model::preempt_here()
                .inspect_err(|_| crate::invalidation::remember_left_work(&Arc::downgrade(space)))?;
        }
    }
    Ok(())
}

/// A handle to `thread` was closed. The last one, while the thread is stopped or faulted, ends
/// it: nobody could resume it any more, and a keeper's answer to a fault it made before (say,
/// before its state was moved into another thread) must not bring it back. A thread waiting
/// for a region's keeper to fill a hole is not stopped for good: the keeper's answer lets it
/// run on, as a reply would a caller (the keeper holds no handle to it).
pub fn thread_handle_closed(thread: &Arc<Thread>) {
    let last = thread
        .handles
        .fetch_sub(1, core::sync::atomic::Ordering::Relaxed)
        == 1;
    let ended_for_good = match thread.run_state() {
        RunState::Stopped => true,
        RunState::Faulted(report) => report.region_address.is_none(),
        _ => false,
    };
    if last && ended_for_good {
        crate::wait::withdraw(thread);
        thread.end(abi::state::KILLED);
    }
}

/// Stops a thread at a point its registers fully describe, whatever it is doing.
fn stop(thread: &Arc<Thread>) -> Result<(), Error> {
    let thread = thread.clone();
    match thread.run_state() {
        RunState::Stopped => Ok(()),
        // The one who stops a faulted thread takes it from its keeper: the fault leaves the
        // keeper's queue, an answer the keeper gives anyway no longer counts (the sequence
        // moves on), and resuming the thread retries the faulting instruction.
        RunState::Faulted(_) => {
            crate::wait::withdraw(&thread);
            thread
                .fault_sequence
                .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            thread.set_run_state(RunState::Stopped);
            Ok(())
        }
        RunState::Exited(_) => Err(Error::InvalidState),
        // Only the caller runs on this one CPU: it stops after this call completes.
        RunState::Running => {
            thread
                .stop_requested
                .store(true, core::sync::atomic::Ordering::Relaxed);
            scheduler::request_switch();
            Ok(())
        }
        RunState::Ready | RunState::Sleeping { .. } | RunState::Waiting => {
            scheduler::withdraw(&thread);
            crate::wait::withdraw(&thread);
            model::stop_blocked(&thread);
            Ok(())
        }
    }
}

/// `ThreadGetState`: for a stopped or faulted thread.
pub fn get_state(handle: u64, buffer: u64, flags: u64) -> Result<(), Error> {
    let export = wants_handles(flags)?;
    let thread = thread_of(handle, Rights::READ_STATE)?;
    if !matches!(thread.run_state(), RunState::Stopped | RunState::Faulted(_)) {
        return Err(Error::InvalidState);
    }
    let size = THREAD_STATE_SIZE as u64;
    let destination = UserSlice::new(buffer, size, size)?;
    let keeper_port = thread
        .keeper
        .lock()
        .as_ref()
        .and_then(alloc::sync::Weak::upgrade);
    let caller = scheduler::current();
    let mut exported = Exported {
        space: &caller.space,
        handles: alloc::vec::Vec::new(),
    };
    let handles = if export {
        export_handles(&mut exported, &thread, keeper_port)
    } else {
        Ok([0; 4])
    };
    let [keeper, space, client_connection, server_connection] = match handles {
        Ok(handles) => handles,
        Err(error) => {
            exported.undo();
            return Err(error);
        }
    };
    crate::fpu::flush(&thread);
    let bases = thread.segment_bases.load();
    let state = ThreadState {
        registers: thread_state::registers_of(&thread.registers.get()),
        fs_base: bases.fs,
        gs_base: bases.gs,
        keeper,
        space,
        client_connection,
        server_connection,
        fpu: thread.fpu_state().image(),
    };
    let written = destination.write_from(&state.to_bytes());
    if written.is_err() {
        exported.undo();
    }
    written
}

/// Puts handles to what `thread` depends on in the caller's table: its keeper (SEND), its
/// space unless it is the caller's own, and its connections; their values, 0 for none.
fn export_handles(
    exported: &mut Exported<'_>,
    thread: &Thread,
    keeper: Option<Arc<Port>>,
) -> Result<[u64; 4], Error> {
    let keeper = match keeper {
        Some(port) => {
            let rights = Rights::SEND | Rights::DUPLICATE | Rights::TRANSFER;
            exported.add(KernelObject::Port(port), rights)?
        }
        None => 0,
    };
    // The space, for identity and its memory map only: reading a thread's state must not give
    // control of the space it runs in. None for a thread of the caller's own space: a space
    // holding a handle to itself would keep itself alive.
    let space = if Arc::ptr_eq(&thread.space, exported.space) {
        0
    } else {
        exported.add(
            KernelObject::Space(thread.space.clone()),
            Rights::READ_STATE,
        )?
    };
    let client = thread.client_connection.cloned();
    let client = match client {
        Some(reply) => exported.add(KernelObject::ReplyReceiver(reply), Rights::RECEIVE)?,
        None => 0,
    };
    let server = thread.server_connection.cloned();
    let server = match server {
        Some(reply) => exported.add(KernelObject::ReplySender(reply), Rights::RECEIVE)?,
        None => 0,
    };
    Ok([keeper, space, client, server])
}

/// `ThreadSetState`: for a stopped or faulted thread, which is stopped afterwards.
pub fn set_state(handle: u64, state_address: u64, flags: u64) -> Result<(), Error> {
    let import = wants_handles(flags)?;
    let thread = thread_of(handle, Rights::WRITE_STATE)?;
    let state = read_state(state_address)?;
    thread_state::from_state(&state)?;
    let named = if import {
        check_space_named(&state, &thread.space)?;
        Some((keeper_named(&state)?, connections_named(&state)?))
    } else {
        None
    };
    if !matches!(thread.run_state(), RunState::Stopped | RunState::Faulted(_)) {
        return Err(Error::InvalidState);
    }
    apply_state(&thread, &state)?;
    // A faulted thread still queued for its keeper leaves the queue: it is stopped now. (A
    // keeper that answers the fault with RESUME after replacing the state is the normal case:
    // only running again, or a new fault, makes an old answer stale.) After the state, which
    // may fail (an FPU area to pay for), so that a failed call changes nothing.
    crate::wait::withdraw(&thread);
    if let Some((keeper, connections)) = named {
        *thread.keeper.lock() = keeper.as_ref().map(Arc::downgrade);
        attach_connections(&thread, connections);
    }
    thread.set_run_state(RunState::Stopped);
    Ok(())
}

/// `ThreadStatus`: condition, detail, fault address.
pub fn status(handle: u64) -> Result<[u64; 3], Error> {
    let thread = thread_of(handle, Rights::READ_STATE)?;
    Ok(match thread.run_state() {
        RunState::Stopped => [Condition::Stopped as u64, 0, 0],
        RunState::Ready | RunState::Running => [Condition::Runnable as u64, 0, 0],
        RunState::Sleeping { .. } | RunState::Waiting => [Condition::Blocked as u64, 0, 0],
        RunState::Exited(status) => [Condition::Exited as u64, status, 0],
        RunState::Faulted(report) => [
            Condition::Faulted as u64,
            u64::from(report.vector) | u64::from(report.error_code) << 32,
            report.address,
        ],
    })
}

/// `ThreadSetKeeper`: a port (SEND) or none.
pub fn set_keeper(handle: u64, port: u64) -> Result<(), Error> {
    let thread = thread_of(handle, Rights::CONTROL)?;
    let keeper = match port {
        0 => None,
        port => Some(object(port, Rights::SEND, KernelObject::to_port)?),
    };
    *thread.keeper.lock() = keeper.as_ref().map(Arc::downgrade);
    Ok(())
}

/// `ThreadSetPriority`: no higher than the caller's own.
pub fn set_priority(handle: u64, priority: u64) -> Result<(), Error> {
    let thread = thread_of(handle, Rights::CONTROL)?;
    if priority > PRIORITY_MAX || priority > scheduler::current().priority() {
        return Err(Error::InvalidArgument);
    }
    if thread.has_ended() {
        return Err(Error::InvalidState);
    }
    scheduler::set_priority(&thread, priority);
    Ok(())
}
