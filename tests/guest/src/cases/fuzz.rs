//! A hostile thread: a million system calls with random numbers and arguments (seeded, the
//! seed printed), drawn from values that make the kernel's checks work: small handles, valid
//! and invalid pointers, boundary numbers. The kernel must return errors, never fall over; a
//! watchdog unblocks the thread whenever a random call blocks for good (it stops the thread,
//! rewrites the blocked call into a `Null` call, and resumes it), and afterwards the kernel must
//! still serve threads, handles and IPC.

use super::handles::fail;
use super::wait_until_ended;
use crate::{Case, CaseFailure, check, check_equal};
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use runtime::abi::registers::{CLOCK_TICK_NANOSECONDS, USER_ADDRESS_LIMIT};
use runtime::abi::state::{Condition, THREAD_STATE_SIZE, register};
use runtime::abi::{Call, Handle};
use runtime::arch::syscall::call6;
use runtime::process::{first_thread, own_space};
use runtime::syscall::{clock_monotonic, sleep_until};
use runtime::thread::{Stack, Thread, spawn};
use runtime::{ipc, println};

/// The cases.
pub const CASES: &[Case] = &[Case {
    name: "a_million_random_calls_leave_the_kernel_intact",
    run: random_calls,
}];

const CALLS: u64 = 1_000_000;
/// The seed of the random calls, unless the suite's arguments name another (`seed <hex>`).
static SEED: AtomicU64 = AtomicU64::new(0x5eed_1234_abcd_0001);

/// Makes the fuzzer draw its calls from `seed` (to replay another run's printed seed).
pub fn set_seed(seed: u64) {
    SEED.store(seed, SeqCst);
}

static FUZZ_STACK: Stack<4096> = Stack::new();
static HELPER_STACK: Stack<512> = Stack::new();
static PROGRESS: AtomicU64 = AtomicU64::new(0);
/// Handles the fuzzer must never pass: the ones that control it and the main thread.
static PROTECTED: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];
/// Writable scratch memory the fuzzer may hand to calls that write.
static SCRATCH: [AtomicU64; THREAD_STATE_SIZE / 8 + 8] =
    [const { AtomicU64::new(0) }; THREAD_STATE_SIZE / 8 + 8];
static READ_ONLY: [u8; 64] = [7; 64];

/// xorshift64*: small, deterministic, good enough to pick arguments.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

fn exit_at_once(_: u64) {}

/// A value of the kind system calls take, chosen to reach the kernel's checks.
fn argument(random: &mut Random) -> u64 {
    let scratch = SCRATCH.as_ptr() as u64;
    match random.below(12) {
        0 => 0,
        1 => u64::MAX,
        2 => random.next(),
        // Plausible handles: small slot, small generation.
        3..=5 => Handle::new(random.below(48) as u32, 1 + random.below(3) as u32).raw(),
        6 => scratch,
        7 => scratch + random.below(64),
        8 => READ_ONLY.as_ptr() as u64,
        9 => [0xffff_8000_0010_0000, USER_ADDRESS_LIMIT, 0x1000_0000, 8][random.below(4) as usize],
        10 => random.below(64),
        _ => exit_at_once as *const () as u64,
    }
}

fn fuzz(_: u64) {
    let mut random = Random(SEED.load(SeqCst));
    let calls = Call::ALL.len() as u64;
    for round in 0..CALLS {
        // Mostly real calls, now and then an unknown number.
        let mut number = if random.below(50) == 0 {
            random.next()
        } else {
            random.below(calls)
        };
        if number == Call::ThreadExit.number() {
            number = Call::Null.number();
        }
        let mut arguments = [0u64; 6];
        for slot in arguments.iter_mut() {
            let mut value = argument(&mut random);
            while PROTECTED.iter().any(|handle| handle.load(SeqCst) == value) {
                value = argument(&mut random);
            }
            *slot = value;
        }
        if number == Call::SleepUntil.number() {
            arguments[0] = clock_monotonic() + random.below(3) * CLOCK_TICK_NANOSECONDS;
        }
        // Printing is checked like any call, but prints nothing: random bytes (of code, say)
        // on the console would bury the test output.
        if number == Call::DebugPrint.number() {
            arguments[1] = 0;
        }
        let call = Call::from_number(number).unwrap_or(Call::Null);
        let _ = if Call::from_number(number).is_some() {
            call6(call, arguments)
        } else {
            runtime::arch::syscall::raw3(number, arguments[0], arguments[1], arguments[2]);
            (0, [0; 6])
        };
        PROGRESS.store(round + 1, SeqCst);
    }
}

/// Turns the call a stopped thread is blocked in into `Null`, so it moves on when resumed.
fn unblock(thread: &Thread) -> Result<(), CaseFailure> {
    let mut state = thread.state().map_err(fail)?;
    state.registers[register::RAX] = Call::Null.number();
    thread.set_state(&state).map_err(fail)?;
    thread.resume().map_err(fail)
}

fn echo_once(set: u64) {
    if let Ok(request) = ipc::wait(Handle::from_raw(set)) {
        let _ = ipc::reply(request.reply, request.words);
    }
}

fn random_calls() -> Result<(), CaseFailure> {
    println!("fuzz: {CALLS} random calls, seed {:#x}", SEED.load(SeqCst));
    PROGRESS.store(0, SeqCst);
    // Made before the fuzzing and out of its reach, to show afterwards that the kernel still
    // runs threads and IPC: the fuzzer may well have spent the whole quota, as it may.
    let port = ipc::port_create(1).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let helper = spawn(&HELPER_STACK, echo_once, set.raw()).map_err(fail)?;
    let fuzzer = spawn(&FUZZ_STACK, fuzz, 0).map_err(fail)?;
    let protected = [
        fuzzer.handle(),
        first_thread(),
        own_space(),
        helper.handle(),
        port,
        set,
    ];
    for (slot, handle) in PROTECTED.iter().zip(protected) {
        slot.store(handle.raw(), SeqCst);
    }
    check_equal!(fuzzer.resume(), Ok(()));
    let (mut last_progress, mut rescues, mut stalled) = (0, 0u64, 0u32);
    loop {
        let _ = sleep_until(clock_monotonic() + 5 * CLOCK_TICK_NANOSECONDS);
        let progress = PROGRESS.load(SeqCst);
        match fuzzer.status().map_err(fail)? {
            (Condition::Exited, _, _) => break,
            (Condition::Faulted, detail, address) => {
                return Err(fail_with(format_args!(
                    "the fuzzing thread faulted (vector {}, address {address:#x}) at call {progress}",
                    detail & 0xff
                )));
            }
            (Condition::Stopped, _, _) => {
                // It stopped itself, or a random call stopped it: resume past the call.
                unblock(&fuzzer)?;
                rescues += 1;
            }
            (Condition::Blocked, _, _) if progress == last_progress => {
                check_equal!(fuzzer.interrupt(), Ok(()));
                unblock(&fuzzer)?;
                rescues += 1;
            }
            (Condition::Runnable, _, _) if progress == last_progress => {
                // No call runs for ever: one that keeps the thread runnable this long without
                // finishing is a kernel bug; name it rather than hang.
                stalled += 1;
                if stalled == STALL_ROUNDS {
                    return Err(stalled_in(&fuzzer, progress));
                }
            }
            _ => stalled = 0,
        }
        if progress != last_progress {
            stalled = 0;
        }
        last_progress = progress;
    }
    check_equal!(PROGRESS.load(SeqCst), CALLS);
    println!("fuzz: done; the watchdog unblocked the fuzzer {rescues} times");
    // Most of what the fuzzer made goes with its handles (slots reused more often than the
    // generations tried here keep theirs: the fuzzer may keep what it made).
    for index in 1..4096u32 {
        for generation in 1..8u32 {
            let handle = Handle::new(index, generation);
            if !PROTECTED
                .iter()
                .any(|protected| protected.load(SeqCst) == handle.raw())
            {
                let _ = runtime::syscall::handle_close(handle);
            }
        }
    }
    drop(fuzzer);
    // The kernel still serves: a null call, a thread that runs, an IPC round trip.
    check_equal!(runtime::syscall::null(), Ok(()));
    check_equal!(helper.resume(), Ok(()));
    check_equal!(ipc::call(port, [1, 2, 3, 4]), Ok([1, 2, 3, 4]));
    check!(
        wait_until_ended(&helper),
        "the helper thread did not run after the fuzzing"
    );
    check_equal!(runtime::syscall::handle_close(port), Ok(()));
    check_equal!(runtime::syscall::handle_close(set), Ok(()));
    Ok(())
}

/// Watchdog rounds (of 5 ticks) a call may keep the fuzzer runnable before the case fails.
const STALL_ROUNDS: u32 = 400;

/// The failure for a call that has kept the fuzzer runnable for `STALL_ROUNDS`: its registers.
fn stalled_in(fuzzer: &Thread, progress: u64) -> CaseFailure {
    let _ = fuzzer.interrupt();
    match fuzzer.state() {
        Ok(state) => {
            let registers = &state.registers;
            fail_with(format_args!(
                "call {progress} kept the fuzzer runnable for {STALL_ROUNDS} watchdog rounds: \
                 rax {:#x} rdi {:#x} rsi {:#x} rdx {:#x} r10 {:#x} r8 {:#x} r9 {:#x} rip {:#x}",
                registers[register::RAX],
                registers[register::RDI],
                registers[register::RSI],
                registers[register::RDX],
                registers[register::R10],
                registers[register::R8],
                registers[register::R9],
                registers[register::RIP],
            ))
        }
        Err(error) => fail_with(format_args!(
            "call {progress} kept the fuzzer runnable for {STALL_ROUNDS} watchdog rounds, \
             and its state could not be read: {error:?}"
        )),
    }
}

fn fail_with(arguments: core::fmt::Arguments<'_>) -> CaseFailure {
    CaseFailure(crate::heapless_message::Message::format(arguments))
}
