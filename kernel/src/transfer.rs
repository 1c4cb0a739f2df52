//! Moving a message's bytes and handle from one thread to another, by the register convention
//! of `abi::registers::transfer`: the sender's `r12`/`r13` name what is left to send, the
//! receiver's `r14`/`r15` where it goes, and both pairs advance together, a page at a time.
//! The registers are the transfer's only record, so a transfer stopped between two pages is
//! resumed by re-issuing either thread's call from its registers.
//!
//! The kernel reaches both spaces through their page tables and the direct map, never through
//! the current address space, so it copies between any two spaces with exactly the rights
//! their own threads have.

use crate::arch::physical::{self, FRAME_SIZE};
use crate::ipc::Port;
use crate::thread::Thread;
use crate::user_pointer::UserSlice;
use crate::virtual_memory;
use abi::memory::MemoryRights;
use abi::{Error, Handle};
use alloc::sync::Arc;

/// Why a copy stopped before either count reached zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interruption {
    /// The page at this address of the sender's bytes is not readable in its space.
    SenderFault(u64),
    /// The page at this address of the receiver's buffer is not writable in its space.
    ReceiverFault(u64),
    /// A preemption point stopped the copy at a page boundary, its progress in both threads'
    /// registers.
    Preempted,
}

/// What a call checks of its buffers before anything moves, in bounded time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The first stage of a call: the bounds, and that the first and last pages are mapped
    /// with the access the transfer needs (written, for a receive buffer) or lie in a hole a
    /// region keeper will fill; so that an absurd buffer is refused before anything moves.
    Ends,
    /// A later stage, re-issued after every preemption point of a long transfer: the bounds
    /// only, which costs nothing per page.
    Bounds,
}

/// Checks a range of a thread's own memory that a transfer will use: wholly in the user
/// half, no longer than a call may name, and as `check` says. A page that turns out missing
/// stops the copy there, with the progress in the registers; checking every page here would
/// make each re-issue of a long transfer walk all that is left of it again.
fn check_range(
    thread: &Thread,
    address: u64,
    length: u64,
    write: bool,
    check: Check,
) -> Result<(), Error> {
    if length == 0 {
        return Ok(());
    }
    let range = UserSlice::new(address, length, abi::registers::transfer::LENGTH_MAX)?;
    if check == Check::Bounds {
        return Ok(());
    }
    // A page is good if it is there, or a region keeper can supply it when the copy gets to
    // it.
    let good = |page| match virtual_memory::resolve(&thread.space, page, needed(write)) {
        Ok(_) => true,
        Err(hole) => hole.keeper().is_some(),
    };
    // A range within one page is looked at once (most messages are).
    let [first, last] = range.end_pages();
    if good(first) && (last == first || good(last)) {
        Ok(())
    } else {
        Err(Error::BadAddress)
    }
}

/// Checks what the calling thread is about to send: its bytes, and the handle in `rbx` (which
/// must carry `TRANSFER`).
pub fn check_send(thread: &Thread, check: Check) -> Result<(), Error> {
    let transfer = thread.registers.transfer();
    if transfer.send_length == 0 && transfer.handle == 0 {
        return Ok(());
    }
    check_range(
        thread,
        transfer.send_address,
        transfer.send_length,
        false,
        check,
    )?;
    if transfer.handle != 0 {
        thread
            .space
            .transferable(Handle::from_raw(transfer.handle))?;
    }
    Ok(())
}

/// Checks the calling thread's receive buffer.
pub fn check_receive(thread: &Thread, check: Check) -> Result<(), Error> {
    let transfer = thread.registers.transfer();
    check_range(
        thread,
        transfer.receive_address,
        transfer.receive_length,
        true,
        check,
    )
}

/// Moves the handle `sender`'s `rbx` names, if any, into `receiver`'s space, setting the
/// receiver's `rbx` to the new handle and clearing the sender's (so that a re-issued call
/// never sends it twice; the receiver's `rbx` is left alone when nothing is sent). Fails with
/// nothing changed if the handle cannot be sent or the receiver's space cannot pay for the
/// slot.
pub fn move_handle(sender: &Thread, receiver: &Thread) -> Result<(), Error> {
    let raw = sender.registers.transfer().handle;
    if raw == 0 {
        return Ok(());
    }
    let (object, rights) = sender.space.transferable(Handle::from_raw(raw))?;
    let received = receiver.space.insert_handle(object, rights)?.raw();
    sender.registers.update(|frame| frame.rbx = 0);
    receiver.registers.update(|frame| frame.rbx = received);
    Ok(())
}

/// The region keeper that can fill the hole a copy stopped at, at `address` of `owner`'s
/// space, and the hole's address in the region's space; `None` if no keeper can.
pub fn hole_keeper(owner: &Thread, address: u64, write: bool) -> Option<(Arc<Port>, u64)> {
    virtual_memory::resolve(&owner.space, address, needed(write))
        .err()?
        .keeper()
}

fn needed(write: bool) -> MemoryRights {
    if write {
        MemoryRights::READ | MemoryRights::WRITE
    } else {
        MemoryRights::READ
    }
}

/// Copies bytes from `sender` to `receiver` until either count is zero (`Ok`), advancing both
/// threads' registers after every piece.
pub fn copy_bytes(sender: &Thread, receiver: &Thread) -> Result<(), Interruption> {
    loop {
        let from = sender.registers.transfer();
        let to = receiver.registers.transfer();
        if from.send_length == 0 || to.receive_length == 0 {
            return Ok(());
        }
        let piece = from
            .send_length
            .min(to.receive_length)
            .min(FRAME_SIZE - from.send_address % FRAME_SIZE)
            .min(FRAME_SIZE - to.receive_address % FRAME_SIZE);
        let source = sender
            .space
            .translate(from.send_address, false)
            .ok_or(Interruption::SenderFault(from.send_address))?;
        let destination = receiver
            .space
            .translate(to.receive_address, true)
            .ok_or(Interruption::ReceiverFault(to.receive_address))?;
        physical::copy_physical(source, destination, piece as usize);
        sender.registers.update(|frame| {
            frame.r12 += piece;
            frame.r13 -= piece;
        });
        receiver.registers.update(|frame| {
            frame.r14 += piece;
            frame.r15 -= piece;
        });
        let more = from.send_length != piece && to.receive_length != piece;
        if more && crate::model::preemption_point() {
            return Err(Interruption::Preempted);
        }
    }
}
