//! System-call dispatch: decodes the registers by the ABI's convention, runs the call, and
//! encodes the outcome back into the registers.

use crate::arch::frame::RegisterFrame;
use crate::model::{self, Restart};
use crate::thread::RunState;
use crate::user_pointer::UserSlice;
use crate::{clock, logger, scheduler};
use abi::registers::DEBUG_PRINT_MAX;
use abi::{Call, Error};

/// What a completed call leaves in the registers.
pub struct Outcome {
    status: Result<(), Error>,
    results: [Option<u64>; 3],
}

impl Outcome {
    fn success() -> Outcome {
        Outcome { status: Ok(()), results: [None; 3] }
    }

    fn with_result(first: u64) -> Outcome {
        Outcome { status: Ok(()), results: [Some(first), None, None] }
    }

    fn error(error: Error) -> Outcome {
        Outcome { status: Err(error), results: [None; 3] }
    }

    /// Writes the status into `rax` and results into `rdi`, `rsi`, `rdx`.
    pub fn write_to(&self, registers: &mut RegisterFrame) {
        registers.rax = match self.status {
            Ok(()) => 0,
            Err(error) => error.code(),
        };
        let targets = [&mut registers.rdi, &mut registers.rsi, &mut registers.rdx];
        for (target, result) in targets.into_iter().zip(self.results) {
            if let Some(value) = result {
                *target = value;
            }
        }
    }
}

impl From<Result<(), Error>> for Outcome {
    fn from(status: Result<(), Error>) -> Outcome {
        Outcome { status, results: [None; 3] }
    }
}

/// Runs the call the registers name. `Err(Restart)` when it blocked in the interrupt model.
pub fn dispatch(registers: &RegisterFrame) -> Result<Outcome, Restart> {
    let Some(call) = Call::from_number(registers.rax) else {
        return Ok(Outcome::error(Error::UnknownCall));
    };
    let arguments = [registers.rdi, registers.rsi, registers.rdx];
    Ok(match call {
        Call::Null => Outcome::success(),
        Call::DebugPrint => debug_print(arguments[0], arguments[1]).into(),
        Call::ThreadExit => {
            scheduler::end_current(RunState::Exited(arguments[0]));
            Outcome::success()
        }
        Call::ClockMonotonic => Outcome::with_result(clock::now()),
        Call::SleepUntil => {
            sleep_until(arguments[0])?;
            Outcome::success()
        }
    })
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
