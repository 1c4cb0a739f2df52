//! System-call dispatch: decodes the registers by the ABI's convention, runs the call, and
//! encodes the outcome back into the registers.

use crate::arch::frame::SavedRegisters;
use crate::model::{self, Restart};
use crate::thread::RunState;
use crate::user_pointer::UserSlice;
use crate::{clock, logger, scheduler};
use abi::registers::DEBUG_PRINT_MAX;
use abi::{Call, Error};

/// Runs the call the registers name and writes its outcome into them. `Err(Restart)` when it
/// blocked in the interrupt model: the registers are then left as they were at entry.
#[inline(always)]
pub fn dispatch(registers: &SavedRegisters) -> Result<(), Restart> {
    let (number, arguments) = registers.system_call();
    // `Ok(Some(value))` for a call with a result in `rdi`.
    let outcome: Result<Option<u64>, Error> = match Call::from_number(number) {
        None => Err(Error::UnknownCall),
        Some(Call::Null) => Ok(None),
        Some(Call::DebugPrint) => debug_print(arguments[0], arguments[1]).map(|()| None),
        Some(Call::ThreadExit) => {
            scheduler::end_current(RunState::Exited(arguments[0]));
            Ok(None)
        }
        Some(Call::ClockMonotonic) => Ok(Some(clock::now())),
        Some(Call::SleepUntil) => {
            sleep_until(arguments[0])?;
            Ok(None)
        }
    };
    match outcome {
        Ok(None) => registers.complete_system_call(0, &[]),
        Ok(Some(result)) => registers.complete_system_call(0, &[result]),
        Err(error) => registers.complete_system_call(error.code(), &[]),
    }
    Ok(())
}

fn debug_print(address: u64, length: u64) -> Result<(), Error> {
    let slice = UserSlice::new(address, length, DEBUG_PRINT_MAX)?;
    let mut buffer = [0u8; DEBUG_PRINT_MAX as usize];
    let buffer = &mut buffer[..slice.len()];
    // Copy everything before printing anything, so the call is all or nothing.
    slice.read_into(buffer)?;
    logger::write_raw(buffer);
    Ok(())
}

fn sleep_until(deadline: u64) -> Result<(), Restart> {
    // In the process model this loops after each wake-up; in the interrupt model `block`
    // returns `Restart` and the re-issued call starts here again. Either way the deadline is
    // checked afresh, so a spurious wake-up never cuts the sleep short.
    while clock::now() < deadline {
        scheduler::sleep_current(deadline);
        model::block()?;
    }
    Ok(())
}
