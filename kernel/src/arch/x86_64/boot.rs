//! The PVH entry: a 32-bit stub that enters long mode, and the reading of the boot information.
//!
//! QEMU (like Xen and other PVH loaders) loads the ELF segments at their physical addresses and
//! jumps to the address in the `XEN_ELFNOTE_PHYS32_ENTRY` note in 32-bit protected mode with
//! paging off and `ebx` pointing at an `hvm_start_info` structure (Xen's
//! `xen/include/public/arch-x86/hvm/start_info.h`). The stub identity-maps the first GiB and
//! maps it again at the kernel's link address, enables long mode (Intel SDM vol. 3A section
//! 10.8.5) and calls [`kernel_entry`] on the boot stack in the higher half.

use super::physical;
use core::arch::global_asm;

/// Longest memory map the kernel accepts from the loader.
pub const MEMORY_MAP_CAPACITY: usize = 64;
/// Longest command line the kernel keeps.
pub const COMMAND_LINE_CAPACITY: usize = 1024;

/// Type of a usable RAM range in the PVH memory map (the E820 convention).
const MEMORY_TYPE_RAM: u32 = 1;
/// `hvm_start_info.magic`.
const START_INFO_MAGIC: u32 = 0x336e_c578;

global_asm!(
    r#"
    .pushsection .note.Xen, "a", @note
    .p2align 2
    .long 4
    .long 8
    .long 18
    .asciz "Xen"
    .p2align 2
    .quad pvh_entry
    .p2align 2
    .popsection

    .pushsection .boot.bss, "aw", @nobits
    .p2align 12
boot_pml4:        .skip 4096
boot_pdpt_low:    .skip 4096
boot_pdpt_high:   .skip 4096
boot_pd:          .skip 4096
boot_stack32:     .skip 256
boot_stack32_top:
boot_start_info:  .skip 8
    .popsection

    .pushsection .boot.data, "aw"
    .p2align 4
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
boot_gdt_end:
boot_gdt_pointer:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt
    .popsection

    .pushsection .bss.boot_stack, "aw", @nobits
    .p2align 4
    .global boot_kernel_stack_bottom
boot_kernel_stack_bottom:
    .skip 65536
    .global boot_kernel_stack_top
boot_kernel_stack_top:
    .popsection

    .pushsection .boot.text, "ax"
    .code32
    .global pvh_entry
pvh_entry:
    cli
    cld
    mov dword ptr [boot_start_info], ebx
    mov esp, offset boot_stack32_top

    /* The main .bss lies in the higher half; clear it through its physical address. */
    mov edi, offset __bss_start - 0xffffffff80000000
    mov ecx, offset __bss_end - 0xffffffff80000000
    sub ecx, edi
    xor eax, eax
    rep stosb

    /* The first GiB in 2 MiB pages, seen at 0 and at 0xffffffff80000000. */
    mov eax, offset boot_pdpt_low
    or eax, 3
    mov dword ptr [boot_pml4], eax
    mov eax, offset boot_pdpt_high
    or eax, 3
    mov dword ptr [boot_pml4 + 511 * 8], eax
    mov eax, offset boot_pd
    or eax, 3
    mov dword ptr [boot_pdpt_low], eax
    mov dword ptr [boot_pdpt_high + 510 * 8], eax
    xor ecx, ecx
1:
    mov eax, ecx
    shl eax, 21
    or eax, 0x83
    mov dword ptr [boot_pd + ecx * 8], eax
    inc ecx
    cmp ecx, 512
    jb 1b

    /* CR4.PAE, then CR3, then EFER.LME and EFER.NXE, then CR0.PG and CR0.WP. */
    mov eax, cr4
    or eax, 1 << 5
    mov cr4, eax
    mov eax, offset boot_pml4
    mov cr3, eax
    mov ecx, 0xc0000080
    rdmsr
    or eax, (1 << 8) | (1 << 11)
    wrmsr
    mov eax, cr0
    or eax, (1 << 31) | (1 << 16) | 1
    mov cr0, eax

    lgdt [boot_gdt_pointer]
    push 0x08
    mov eax, offset boot_long_mode
    push eax
    retf

    .code64
boot_long_mode:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    movabs rax, offset boot_kernel_stack_top
    mov rsp, rax
    mov edi, dword ptr [boot_start_info]
    movabs rax, offset kernel_entry
    call rax
2:
    hlt
    jmp 2b
    .popsection
    "#
);

/// One range of the loader's physical memory map.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryRange {
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub size: u64,
    /// Whether this is usable RAM.
    pub usable: bool,
}

/// What the loader told the kernel, copied out of low memory before it is reused.
pub struct BootInformation {
    /// The physical memory map.
    pub memory_map: [MemoryRange; MEMORY_MAP_CAPACITY],
    /// How many entries of `memory_map` are valid.
    pub memory_map_length: usize,
    command_line: [u8; COMMAND_LINE_CAPACITY],
    command_line_length: usize,
    /// The physical range of the initrd (the boot file system), if the loader passed one.
    pub initrd: Option<(u64, u64)>,
}

impl BootInformation {
    /// The kernel command line (empty if it was not UTF-8).
    pub fn command_line(&self) -> &str {
        core::str::from_utf8(&self.command_line[..self.command_line_length]).unwrap_or("")
    }

    /// The valid entries of the memory map.
    pub fn memory_map(&self) -> &[MemoryRange] {
        &self.memory_map[..self.memory_map_length]
    }
}

/// Reads the `hvm_start_info` structure at `start_info` (physical, identity-mapped by the stub).
fn read_start_info(start_info: u64) -> Result<BootInformation, &'static str> {
    let word32 = |offset: u64| physical::read_boot_u32(start_info + offset);
    let word64 = |offset: u64| physical::read_boot_u64(start_info + offset);
    if word32(0) != START_INFO_MAGIC {
        return Err("the loader's start information has a bad magic number");
    }
    let version = word32(4);
    let module_count = word32(12);
    let module_list = word64(16);
    let command_line_address = word64(24);
    let mut information = BootInformation {
        memory_map: [MemoryRange::default(); MEMORY_MAP_CAPACITY],
        memory_map_length: 0,
        command_line: [0; COMMAND_LINE_CAPACITY],
        command_line_length: 0,
        initrd: None,
    };
    if command_line_address != 0 {
        while information.command_line_length < COMMAND_LINE_CAPACITY {
            let byte = physical::read_boot_u8(
                command_line_address + information.command_line_length as u64,
            );
            if byte == 0 {
                break;
            }
            information.command_line[information.command_line_length] = byte;
            information.command_line_length += 1;
        }
    }
    if module_count > 0 && module_list != 0 {
        // struct hvm_modlist_entry { paddr, size, cmdline_paddr, reserved }: the first is the initrd.
        let start = physical::read_boot_u64(module_list);
        let size = physical::read_boot_u64(module_list + 8);
        information.initrd = Some((start, size));
    }
    if version < 1 {
        return Err("the loader's start information has no memory map (version 0)");
    }
    let memory_map = word64(40);
    let entries = (word32(48) as usize).min(MEMORY_MAP_CAPACITY);
    for index in 0..entries {
        // struct hvm_memmap_table_entry { addr, size, type, reserved }.
        let entry = memory_map + index as u64 * 24;
        information.memory_map[index] = MemoryRange {
            start: physical::read_boot_u64(entry),
            size: physical::read_boot_u64(entry + 8),
            usable: physical::read_boot_u32(entry + 16) == MEMORY_TYPE_RAM,
        };
    }
    information.memory_map_length = entries;
    Ok(information)
}

/// Called by the stub in long mode with the physical address of `hvm_start_info`.
#[unsafe(no_mangle)]
extern "C" fn kernel_entry(start_info: u64) -> ! {
    super::serial::initialize();
    static INFORMATION: spin::Once<BootInformation> = spin::Once::new();
    match read_start_info(start_info) {
        Ok(information) => crate::kernel_main(INFORMATION.call_once(|| information)),
        Err(message) => panic!("{message}"),
    }
}

/// The top of the boot stack, which the interrupt model keeps as the CPU's kernel stack.
#[cfg_attr(not(feature = "model-interrupt"), allow(dead_code))]
pub fn boot_stack_top() -> u64 {
    unsafe extern "C" {
        static boot_kernel_stack_top: u8;
    }
    &raw const boot_kernel_stack_top as u64
}
