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
use crate::scheduler;
use crate::thread::Thread;
use crate::user_pointer::UserSlice;
use abi::{Error, Handle};

/// Why a copy stopped before either count reached zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interruption {
    /// A page of the sender's bytes is not mapped readable in its space.
    SenderFault,
    /// A page of the receiver's buffer is not mapped writable in its space.
    ReceiverFault,
    /// A preemption point stopped the copy at a page boundary, its progress in both threads'
    /// registers.
    Preempted,
}

/// Checks a range of a thread's own memory that a transfer will use: wholly in the user half,
/// and every page mapped with the access the transfer needs (written, for a receive buffer).
fn check_range(thread: &Thread, address: u64, length: u64, write: bool) -> Result<(), Error> {
    if length == 0 {
        return Ok(());
    }
    let range = UserSlice::new(address, length, u64::MAX)?;
    if range
        .pages()
        .all(|page| thread.space.translate(page, write).is_some())
    {
        Ok(())
    } else {
        Err(Error::BadAddress)
    }
}

/// Checks what the calling thread is about to send: its bytes, and the handle in `rbx` (which
/// must carry `TRANSFER`).
pub fn check_send(thread: &Thread) -> Result<(), Error> {
    let transfer = thread.registers.transfer();
    if transfer.send_length == 0 && transfer.handle == 0 {
        return Ok(());
    }
    check_range(thread, transfer.send_address, transfer.send_length, false)?;
    if transfer.handle != 0 {
        thread
            .space
            .transferable(Handle::from_raw(transfer.handle))?;
    }
    Ok(())
}

/// Checks the calling thread's receive buffer.
pub fn check_receive(thread: &Thread) -> Result<(), Error> {
    let transfer = thread.registers.transfer();
    check_range(
        thread,
        transfer.receive_address,
        transfer.receive_length,
        true,
    )
}

/// Moves the handle `sender`'s `rbx` names into `receiver`'s space, setting the receiver's
/// `rbx` to the new handle (0 if none was sent) and clearing the sender's. Fails with nothing
/// changed if the handle cannot be sent or the receiver's space cannot pay for the slot.
pub fn move_handle(sender: &Thread, receiver: &Thread) -> Result<(), Error> {
    let raw = sender.registers.transfer().handle;
    let received = if raw == 0 {
        0
    } else {
        let (object, rights) = sender.space.transferable(Handle::from_raw(raw))?;
        receiver.space.insert_handle(object, rights)?.raw()
    };
    sender.registers.update(|frame| frame.rbx = 0);
    receiver.registers.update(|frame| frame.rbx = received);
    Ok(())
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
            .ok_or(Interruption::SenderFault)?;
        let destination = receiver
            .space
            .translate(to.receive_address, true)
            .ok_or(Interruption::ReceiverFault)?;
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
        if more && scheduler::preemption_point() {
            return Err(Interruption::Preempted);
        }
    }
}
