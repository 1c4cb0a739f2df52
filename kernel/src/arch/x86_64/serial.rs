//! The debug console: the first 16550 UART (COM1), written by polling.

use x86_64::instructions::port::Port;

const COM1: u16 = 0x3f8;
const LINE_STATUS_TRANSMIT_EMPTY: u8 = 1 << 5;

static LOCK: spin::Mutex<()> = spin::Mutex::new(());

/// Programs COM1 for 115200 baud, 8 data bits, no parity, one stop bit, FIFOs on.
pub fn initialize() {
    let writes: [(u16, u8); 7] = [
        (1, 0x00), // no interrupts
        (3, 0x80), // divisor latch access
        (0, 0x01), // divisor 1: 115200 baud
        (1, 0x00),
        (3, 0x03), // 8N1, latch off
        (2, 0xc7), // FIFOs on and cleared
        (4, 0x03), // DTR, RTS
    ];
    for (offset, value) in writes {
        // SAFETY: COM1's registers are plain I/O ports with no memory side effects.
        unsafe { Port::new(COM1 + offset).write(value) };
    }
}

fn write_byte(byte: u8) {
    let mut line_status: Port<u8> = Port::new(COM1 + 5);
    let mut data: Port<u8> = Port::new(COM1);
    // SAFETY: as in `initialize`.
    unsafe {
        while line_status.read() & LINE_STATUS_TRANSMIT_EMPTY == 0 {
            core::hint::spin_loop();
        }
        data.write(byte);
    }
}

/// Writes bytes to the console, turning `\n` into `\r\n`. One call is never interleaved with
/// another.
pub fn write_bytes(bytes: &[u8]) {
    let _guard = LOCK.lock();
    for &byte in bytes {
        if byte == b'\n' {
            write_byte(b'\r');
        }
        write_byte(byte);
    }
}

/// Writes bytes without taking the console lock, for a panic that may have struck while the
/// lock was held (the kernel runs on one CPU with interrupts off, so nobody else is writing).
pub fn write_bytes_forced(bytes: &[u8]) {
    for &byte in bytes {
        if byte == b'\n' {
            write_byte(b'\r');
        }
        write_byte(byte);
    }
}
