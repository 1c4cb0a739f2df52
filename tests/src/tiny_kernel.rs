//! A tiny PVH kernel written as bytes, for testing the runner against a real QEMU: it prints a
//! fixed text on COM1, then writes a code to the `isa-debug-exit` port (or spins forever).
//!
//! QEMU enters a PVH kernel in 32-bit protected mode at the address in the ELF note of type
//! `XEN_ELFNOTE_PHYS32_ENTRY` (18, owner "Xen"); nothing else needs setting up to use `out`.

use crate::qemu::{PROGRAM, QemuCommand, find_on_path};
use crate::runner::{BootOutcome, boot};
use std::path::PathBuf;
use std::time::Duration;

/// Where the code is loaded and entered.
const LOAD_ADDRESS: u64 = 0x10_0000;
/// Where the code lies in the file.
const CODE_OFFSET: usize = 0x1000;
const ELF_HEADER_SIZE: usize = 64;
const PROGRAM_HEADER_SIZE: usize = 56;

/// Fails the calling test, with what to do, when QEMU is not installed.
pub fn require_qemu() {
    assert!(
        find_on_path(PROGRAM).is_some(),
        "{PROGRAM} is not installed, and this test boots it: install QEMU (on Debian: \
         apt-get install qemu-system-x86) or run `cargo xtask test`, which installs it"
    );
}

/// A kernel to build: what it prints and how it ends.
pub struct TinyKernel {
    name: &'static str,
    text: Vec<u8>,
    exit_value: Option<u32>,
}

impl TinyKernel {
    /// A kernel that prints nothing and spins; `name` keeps the files of parallel tests apart.
    pub fn new(name: &'static str) -> TinyKernel {
        TinyKernel {
            name,
            text: Vec::new(),
            exit_value: None,
        }
    }

    /// Prints `text` first.
    pub fn printing(mut self, text: &str) -> TinyKernel {
        self.text = text.as_bytes().to_vec();
        self
    }

    /// Ends by writing `value` to the exit port instead of spinning.
    pub fn exiting_with(mut self, value: u32) -> TinyKernel {
        self.exit_value = Some(value);
        self
    }

    /// The machine code (32-bit protected mode).
    fn code(&self) -> Vec<u8> {
        let mut code = vec![0x66, 0xba, 0xf8, 0x03]; // mov dx, 0x3f8
        for &byte in &self.text {
            code.extend_from_slice(&[0xb0, byte, 0xee]); // mov al, byte; out dx, al
        }
        if let Some(value) = self.exit_value {
            code.extend_from_slice(&[0x66, 0xba, 0xf4, 0x00]); // mov dx, 0xf4
            code.push(0xb8); // mov eax, value
            code.extend_from_slice(&value.to_le_bytes());
            code.push(0xef); // out dx, eax
        }
        code.extend_from_slice(&[0xf4, 0xeb, 0xfd]); // hlt; jmp back to hlt
        code
    }

    /// The ELF file: one loadable segment with the code, one note segment with the entry.
    pub fn elf(&self) -> Vec<u8> {
        let code = self.code();
        let mut note = Vec::new();
        note.extend_from_slice(&4u32.to_le_bytes()); // owner name size
        note.extend_from_slice(&4u32.to_le_bytes()); // descriptor size
        note.extend_from_slice(&18u32.to_le_bytes()); // XEN_ELFNOTE_PHYS32_ENTRY
        note.extend_from_slice(b"Xen\0");
        note.extend_from_slice(&(LOAD_ADDRESS as u32).to_le_bytes());
        let note_offset = ELF_HEADER_SIZE + 2 * PROGRAM_HEADER_SIZE;

        let mut elf = Vec::new();
        elf.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        elf.extend_from_slice(&2u16.to_le_bytes()); // executable
        elf.extend_from_slice(&62u16.to_le_bytes()); // x86-64
        elf.extend_from_slice(&1u32.to_le_bytes()); // version
        elf.extend_from_slice(&LOAD_ADDRESS.to_le_bytes()); // entry
        elf.extend_from_slice(&(ELF_HEADER_SIZE as u64).to_le_bytes()); // program headers
        elf.extend_from_slice(&0u64.to_le_bytes()); // no section headers
        elf.extend_from_slice(&0u32.to_le_bytes()); // flags
        for half in [ELF_HEADER_SIZE, PROGRAM_HEADER_SIZE, 2, 64, 0, 0] {
            elf.extend_from_slice(&(half as u16).to_le_bytes());
        }
        let segments = [
            (1u32, 5u32, CODE_OFFSET, LOAD_ADDRESS, code.len(), 0x1000u64),
            (4, 4, note_offset, 0, note.len(), 4),
        ];
        for (kind, flags, offset, address, size, alignment) in segments {
            elf.extend_from_slice(&kind.to_le_bytes());
            elf.extend_from_slice(&flags.to_le_bytes());
            elf.extend_from_slice(&(offset as u64).to_le_bytes());
            elf.extend_from_slice(&address.to_le_bytes()); // virtual
            elf.extend_from_slice(&address.to_le_bytes()); // physical
            elf.extend_from_slice(&(size as u64).to_le_bytes()); // in the file
            elf.extend_from_slice(&(size as u64).to_le_bytes()); // in memory
            elf.extend_from_slice(&alignment.to_le_bytes());
        }
        elf.extend_from_slice(&note);
        elf.resize(CODE_OFFSET, 0);
        elf.extend_from_slice(&code);
        elf
    }

    /// Writes the kernel and an empty boot file system to a temporary directory, boots them and
    /// removes the files.
    pub fn boot(&self, timeout: Duration) -> BootOutcome {
        let directory: PathBuf =
            std::env::temp_dir().join(format!("tiny-kernel-{}-{}", std::process::id(), self.name));
        std::fs::create_dir_all(&directory).unwrap();
        let kernel = directory.join("kernel.elf");
        let bootfs = directory.join("bootfs.img");
        std::fs::write(&kernel, self.elf()).unwrap();
        std::fs::write(&bootfs, boot::filesystem::build(&[]).unwrap()).unwrap();
        let outcome = boot(&QemuCommand::new(&kernel, &bootfs, "log=info"), timeout).unwrap();
        let _ = std::fs::remove_dir_all(&directory);
        outcome
    }
}
