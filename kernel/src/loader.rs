//! Loads the root program: the one ELF file the kernel loads itself (every later program is
//! loaded by user-level managers). It finds the program in the boot file system, maps its
//! segments and a stack into a new space, and creates its first thread.

use crate::arch::paging::{MapError, UserRights};
use crate::arch::physical::{self, FRAME_SIZE};
use crate::memory;
use crate::object::KernelObject;
use crate::space::Space;
use crate::thread::Thread;
use abi::Rights;
use abi::registers::{NULL_GUARD_END, PRIORITY_ROOT};
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use boot::command_line::CommandLine;
use boot::filesystem::{BootFileSystem, FormatError};
use boot::manifest::{self, Manifest, ManifestError};
use core::fmt;
use goblin::elf::{Elf, header, program_header};
use region::PageRange;

/// The kernel memory the root program's space may use for objects, in bytes.
const ROOT_QUOTA: u64 = 32 << 20;

/// The root program's stack: 256 KiB ending here, its argument string at the very top.
const STACK_TOP: u64 = 0x0000_7fff_ffff_0000;
const STACK_SIZE: u64 = 256 * 1024;
const ARGUMENTS_MAX: usize = 1024;

/// Why the root program could not be started.
#[derive(Debug)]
pub enum LoadError {
    /// The initrd is not a boot file system.
    FileSystem(FormatError),
    /// The boot file system has no manifest.
    NoManifest,
    /// The manifest is malformed.
    Manifest(ManifestError<'static>),
    /// The program named as root is not in the boot file system.
    NoSuchProgram(&'static str),
    /// The program is not an ELF file this kernel can run.
    BadExecutable(&'static str),
    /// The arguments are longer than the kernel passes.
    ArgumentsTooLong,
    /// Memory ran out while building the space.
    OutOfMemory,
    /// The kernel refused to create the space, thread or handles.
    Kernel(abi::Error),
}

impl fmt::Display for LoadError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::FileSystem(error) => write!(formatter, "bad boot file system: {error}"),
            LoadError::NoManifest => write!(formatter, "the boot file system has no manifest"),
            LoadError::Manifest(error) => write!(formatter, "bad manifest: {error}"),
            LoadError::NoSuchProgram(name) => {
                write!(
                    formatter,
                    "no program named {name:?} in the boot file system"
                )
            }
            LoadError::BadExecutable(why) => write!(formatter, "bad executable: {why}"),
            LoadError::ArgumentsTooLong => {
                write!(formatter, "root arguments exceed {ARGUMENTS_MAX} bytes")
            }
            LoadError::OutOfMemory => write!(formatter, "out of memory"),
            LoadError::Kernel(error) => write!(formatter, "the kernel refused: {error}"),
        }
    }
}

impl From<MapError> for LoadError {
    fn from(error: MapError) -> LoadError {
        match error {
            MapError::OutOfMemory => LoadError::OutOfMemory,
            MapError::AlreadyMapped => LoadError::BadExecutable("segments overlap"),
        }
    }
}

/// Finds the root program (the command line's `root=` or the manifest's) and builds its space
/// and first thread.
pub fn load_root_program(
    boot_files: &'static [u8],
    boot_files_physical: u64,
    command_line: &CommandLine<'static>,
) -> Result<Arc<Thread>, LoadError> {
    let files = BootFileSystem::parse(boot_files).map_err(LoadError::FileSystem)?;
    let manifest_file = files
        .find(manifest::FILE_NAME)
        .ok_or(LoadError::NoManifest)?;
    let manifest = Manifest::parse(manifest_file.data).map_err(LoadError::Manifest)?;
    let name = command_line.root.unwrap_or(manifest.root);
    let arguments = match command_line.root_arguments {
        Some(arguments) => arguments,
        None if name == manifest.root => manifest.root_arguments,
        None => "",
    };
    let program = files.find(name).ok_or(LoadError::NoSuchProgram(name))?;
    if arguments.len() > ARGUMENTS_MAX {
        return Err(LoadError::ArgumentsTooLong);
    }
    let ram = ram_window();
    let space = Space::new_root(ROOT_QUOTA, ram).map_err(LoadError::Kernel)?;
    let boot_files_shown = show_boot_files(&space, boot_files, boot_files_physical)?;
    let entry = load_elf(&space, program.data)?;
    let arguments_address = build_stack(&space, arguments.as_bytes())?;
    let stack_pointer = (arguments_address - 64) & !15;
    let mut frame = crate::arch::initial_user_frame(
        entry,
        stack_pointer,
        arguments_address,
        arguments.len() as u64,
    );
    let thread =
        Thread::new(space.clone(), frame, PRIORITY_ROOT, true).map_err(LoadError::Kernel)?;
    // The program starts with a handle to its space in rdx and to itself in rcx.
    let insert = |object| {
        space
            .insert_handle(object, Rights::all())
            .map_err(LoadError::Kernel)
    };
    frame.rdx = insert(KernelObject::Space(space.clone()))?.raw();
    frame.rcx = insert(KernelObject::Thread(thread.clone()))?.raw();
    frame.r8 = ram.map_or(0, |ram| ram.size());
    frame.r9 = boot_files_shown;
    thread.registers.update(|registers| *registers = frame);
    log::info!(
        "root program {name:?} ({} KiB) entry {entry:#x}, arguments {arguments:?}",
        program.data.len() / 1024
    );
    Ok(thread)
}

/// The root program's RAM window: as much as is free now, less an eighth kept for page tables
/// and the kernel's own needs.
fn ram_window() -> Option<PageRange> {
    let frames = memory::free_frame_count();
    let size = (frames - frames / 8) * FRAME_SIZE;
    PageRange::new(abi::root::RAM_START, size).ok()
}

/// Shows the boot file system read-only at `abi::root::BOOT_FILES_START`; its size, or 0 if
/// it does not start on a page boundary (the loader always puts it on one).
fn show_boot_files(space: &Space, files: &[u8], physical: u64) -> Result<u64, LoadError> {
    if files.is_empty() || !physical.is_multiple_of(FRAME_SIZE) {
        log::warn!("the boot file system is not page-aligned: the root program will not see it");
        return Ok(0);
    }
    let length = (files.len() as u64).next_multiple_of(FRAME_SIZE);
    space.show_physical(abi::root::BOOT_FILES_START, physical, length)?;
    Ok(files.len() as u64)
}

fn page_rights(flags: u32) -> UserRights {
    UserRights {
        write: flags & program_header::PF_W != 0,
        execute: flags & program_header::PF_X != 0,
    }
}

/// Maps every loadable segment (pages shared by two segments get the union of their rights)
/// and copies the file's bytes in. Returns the entry point.
fn load_elf(space: &Space, image: &[u8]) -> Result<u64, LoadError> {
    let elf = Elf::parse(image).map_err(|_| LoadError::BadExecutable("not an ELF file"))?;
    if !elf.is_64 || elf.header.e_machine != header::EM_X86_64 {
        return Err(LoadError::BadExecutable("not an x86_64 ELF64 file"));
    }
    if elf.header.e_type != header::ET_EXEC {
        return Err(LoadError::BadExecutable(
            "not a static executable (ET_EXEC)",
        ));
    }
    let limit = STACK_TOP - STACK_SIZE;
    let mut pages: BTreeMap<u64, UserRights> = BTreeMap::new();
    let segments = || {
        elf.program_headers
            .iter()
            .filter(|segment| segment.p_type == program_header::PT_LOAD && segment.p_memsz > 0)
    };
    for segment in segments() {
        let end = segment
            .p_vaddr
            .checked_add(segment.p_memsz)
            .filter(|&end| end <= limit && segment.p_vaddr >= NULL_GUARD_END)
            .ok_or(LoadError::BadExecutable(
                "a segment lies outside the user program area",
            ))?;
        if segment.p_filesz > segment.p_memsz
            || segment
                .p_offset
                .checked_add(segment.p_filesz)
                .is_none_or(|e| e > image.len() as u64)
        {
            return Err(LoadError::BadExecutable(
                "a segment's file extent is invalid",
            ));
        }
        let rights = page_rights(segment.p_flags);
        let mut page = segment.p_vaddr & !(FRAME_SIZE - 1);
        while page < end {
            let entry = pages.entry(page).or_insert(UserRights {
                write: false,
                execute: false,
            });
            entry.write |= rights.write;
            entry.execute |= rights.execute;
            page += FRAME_SIZE;
        }
    }
    let mut frames = BTreeMap::new();
    for (&page, &rights) in &pages {
        frames.insert(page, space.map_zeroed_page(page, rights)?);
    }
    for segment in segments() {
        let data =
            &image[segment.p_offset as usize..(segment.p_offset + segment.p_filesz) as usize];
        let mut copied = 0usize;
        while copied < data.len() {
            let address = segment.p_vaddr + copied as u64;
            let page = address & !(FRAME_SIZE - 1);
            let offset = (address - page) as usize;
            let chunk = (FRAME_SIZE as usize - offset).min(data.len() - copied);
            physical::write_frame(frames[&page], offset, &data[copied..copied + chunk]);
            copied += chunk;
        }
    }
    if !pages.contains_key(&(elf.entry & !(FRAME_SIZE - 1))) {
        return Err(LoadError::BadExecutable(
            "the entry point is not in a loaded segment",
        ));
    }
    Ok(elf.entry)
}

/// Maps the stack and puts the argument string at its top; returns the string's address.
fn build_stack(space: &Space, arguments: &[u8]) -> Result<u64, LoadError> {
    let rights = UserRights {
        write: true,
        execute: false,
    };
    let mut top_frame = 0;
    for page in (STACK_TOP - STACK_SIZE..STACK_TOP).step_by(FRAME_SIZE as usize) {
        top_frame = space.map_zeroed_page(page, rights)?;
    }
    let offset = FRAME_SIZE as usize - arguments.len().next_multiple_of(16);
    physical::write_frame(top_frame, offset, arguments);
    Ok(STACK_TOP - FRAME_SIZE + offset as u64)
}
