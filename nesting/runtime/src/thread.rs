//! Threads of the program's own space: stacks in static memory, spawning, and a handle type
//! that closes on drop.

use crate::syscall;
use abi::state::{ThreadState, register};
use abi::{Error, Handle};
use core::sync::atomic::AtomicU64;

/// Memory for a thread's stack, in a `static`: `static STACK: Stack<2048> = Stack::new();`
/// (16 KiB). The CPU writes it behind the compiler's back, which interior mutability allows.
pub struct Stack<const WORDS: usize>([AtomicU64; WORDS]);

impl<const WORDS: usize> Stack<WORDS> {
    /// A zeroed stack.
    pub const fn new() -> Self {
        Stack([const { AtomicU64::new(0) }; WORDS])
    }

    /// The address just above the stack, 16-byte aligned: the initial stack pointer.
    pub fn top(&'static self) -> u64 {
        (self.0.as_ptr() as u64 + (WORDS * 8) as u64) & !15
    }
}

impl<const WORDS: usize> Default for Stack<WORDS> {
    fn default() -> Self {
        Stack::new()
    }
}

/// A thread handle that closes itself when dropped.
#[derive(Debug)]
pub struct Thread(Handle);

impl Thread {
    /// Takes ownership of a raw thread handle.
    pub fn from_handle(handle: Handle) -> Thread {
        Thread(handle)
    }

    /// The raw handle, still owned by this value.
    pub fn handle(&self) -> Handle {
        self.0
    }

    /// `ThreadResume`.
    pub fn resume(&self) -> Result<(), Error> {
        syscall::thread_resume(self.0)
    }

    /// `ThreadInterrupt`.
    pub fn interrupt(&self) -> Result<(), Error> {
        syscall::thread_interrupt(self.0)
    }

    /// `ThreadGetState`.
    pub fn state(&self) -> Result<ThreadState, Error> {
        syscall::thread_get_state(self.0)
    }

    /// `ThreadSetState`.
    pub fn set_state(&self, state: &ThreadState) -> Result<(), Error> {
        syscall::thread_set_state(self.0, state)
    }

    /// Moves the thread, stopped or faulted, into a new stopped thread of `space` (its own):
    /// its state with what it depends on (its keeper, and the connections it holds, so that a
    /// call or a request it is in the middle of goes on in the new thread). The old thread is
    /// left as it was; dropping its last handle ends it. The state moved, whose handle
    /// fields name handles already closed again, and the new thread.
    pub fn move_to_new_thread(&self, space: Handle) -> Result<(ThreadState, Thread), Error> {
        let state = syscall::thread_get_state_with_handles(self.0)?;
        let created = syscall::thread_create_with_handles(space, &state);
        let exported = [
            state.keeper,
            state.space,
            state.client_connection,
            state.server_connection,
        ];
        // The new thread holds what it needs; the handles made for the move go.
        for handle in exported.into_iter().filter(|&handle| handle != 0) {
            let _ = syscall::handle_close(Handle::from_raw(handle));
        }
        Ok((state, Thread::from_handle(created?)))
    }

    /// `ThreadStatus`: what the thread is doing, with the exit status or fault detail.
    pub fn status(&self) -> Result<(abi::state::Condition, u64, u64), Error> {
        syscall::thread_status(self.0)
    }

    /// `ThreadSetKeeper`: the port its CPU exceptions go to, as requests
    /// (`abi::keeper` describes them).
    pub fn set_keeper(&self, keeper: Option<Handle>) -> Result<(), Error> {
        syscall::thread_set_keeper(self.0, keeper)
    }

    /// `ThreadSetPriority`.
    pub fn set_priority(&self, priority: u64) -> Result<(), Error> {
        syscall::thread_set_priority(self.0, priority)
    }
}

impl Drop for Thread {
    fn drop(&mut self) {
        // Closing can only fail if the handle is already gone, which owning it rules out.
        let _ = syscall::handle_close(self.0);
    }
}

/// The state of a thread that will run `function(argument)` on `stack` and then exit.
pub fn initial_state(stack_top: u64, function: fn(u64), argument: u64) -> ThreadState {
    let (entry, function, argument) = crate::arch::entry::thread_entry(function, argument);
    let mut state = ThreadState::default();
    state.registers[register::RIP] = entry;
    state.registers[register::RSP] = stack_top;
    state.registers[register::RDI] = function;
    state.registers[register::RSI] = argument;
    state
}

/// Creates a stopped thread in the program's own space that runs `function(argument)` on
/// `stack`; resume it to start it. Each stack must serve one thread at a time.
pub fn spawn<const WORDS: usize>(
    stack: &'static Stack<WORDS>,
    function: fn(u64),
    argument: u64,
) -> Result<Thread, Error> {
    spawn_in(crate::process::own_space(), stack, function, argument)
}

/// Creates a stopped thread in `space`, which must show this program's image and `stack` at
/// the same addresses (a mapping of them), that runs `function(argument)` there.
pub fn spawn_in<const WORDS: usize>(
    space: Handle,
    stack: &'static Stack<WORDS>,
    function: fn(u64),
    argument: u64,
) -> Result<Thread, Error> {
    let state = initial_state(stack.top(), function, argument);
    syscall::thread_create(space, &state).map(Thread)
}
