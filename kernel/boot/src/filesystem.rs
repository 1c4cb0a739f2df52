//! The boot file system: a flat, read-only archive of named files, passed as the initrd.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! offset 0   magic "BOOTFS01" (8 bytes), file count (u32), reserved (u32, zero)
//! offset 16  one 64-byte entry per file: name (48 bytes, UTF-8, zero-padded),
//!            data offset from the archive start (u64), data length (u64)
//! then       the file data, each file starting on a 4 KiB boundary
//! ```
//!
//! Page-aligned data lets a loader map file pages instead of copying them.

use alloc::vec::Vec;

/// The first eight bytes of every archive.
pub const MAGIC: &[u8; 8] = b"BOOTFS01";
/// The longest file name, in bytes.
pub const NAME_MAX: usize = 48;
/// The alignment of every file's data.
pub const DATA_ALIGNMENT: usize = 4096;

const HEADER_SIZE: usize = 16;
const ENTRY_SIZE: usize = NAME_MAX + 16;

/// Why an archive could not be read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// The archive is shorter than its header or entry table says.
    Truncated,
    /// The archive does not start with [`MAGIC`].
    BadMagic,
    /// An entry's name is empty, too long, not UTF-8 or not zero-padded.
    BadName,
    /// An entry's data lies outside the archive or is misaligned.
    BadExtent,
    /// Two entries have the same name.
    DuplicateName,
}

impl core::fmt::Display for FormatError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(match self {
            FormatError::Truncated => "the archive is truncated",
            FormatError::BadMagic => "the archive does not start with BOOTFS01",
            FormatError::BadName => "a file name is empty, too long or not UTF-8",
            FormatError::BadExtent => "a file's data lies outside the archive or is misaligned",
            FormatError::DuplicateName => "two files have the same name",
        })
    }
}

/// One file of an archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct File<'a> {
    /// The file's name.
    pub name: &'a str,
    /// Where the data starts, from the start of the archive (a multiple of 4 KiB).
    pub offset: usize,
    /// The file's contents.
    pub data: &'a [u8],
}

/// A validated archive.
#[derive(Clone, Copy, Debug)]
pub struct BootFileSystem<'a> {
    bytes: &'a [u8],
    count: usize,
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

impl<'a> BootFileSystem<'a> {
    /// Validates an archive: header, every entry's name and extent, unique names.
    pub fn parse(bytes: &'a [u8]) -> Result<BootFileSystem<'a>, FormatError> {
        if bytes.len() < HEADER_SIZE {
            return Err(FormatError::Truncated);
        }
        if &bytes[..8] != MAGIC {
            return Err(FormatError::BadMagic);
        }
        let count = read_u32(bytes, 8) as usize;
        let table_end = count
            .checked_mul(ENTRY_SIZE)
            .and_then(|size| size.checked_add(HEADER_SIZE))
            .ok_or(FormatError::Truncated)?;
        if bytes.len() < table_end {
            return Err(FormatError::Truncated);
        }
        let archive = BootFileSystem { bytes, count };
        for index in 0..count {
            let file = archive.entry(index)?;
            for earlier in 0..index {
                if archive.entry(earlier)?.name == file.name {
                    return Err(FormatError::DuplicateName);
                }
            }
        }
        Ok(archive)
    }

    fn entry(&self, index: usize) -> Result<File<'a>, FormatError> {
        let at = HEADER_SIZE + index * ENTRY_SIZE;
        let raw_name = &self.bytes[at..at + NAME_MAX];
        let length = raw_name
            .iter()
            .position(|&byte| byte == 0)
            .unwrap_or(NAME_MAX);
        if length == 0 || raw_name[length..].iter().any(|&byte| byte != 0) {
            return Err(FormatError::BadName);
        }
        let name = core::str::from_utf8(&raw_name[..length]).map_err(|_| FormatError::BadName)?;
        let offset = read_u64(self.bytes, at + NAME_MAX);
        let size = read_u64(self.bytes, at + NAME_MAX + 8);
        let end = offset.checked_add(size).ok_or(FormatError::BadExtent)?;
        if end > self.bytes.len() as u64 || !offset.is_multiple_of(DATA_ALIGNMENT as u64) {
            return Err(FormatError::BadExtent);
        }
        let (offset, end) = (offset as usize, end as usize);
        Ok(File {
            name,
            offset,
            data: &self.bytes[offset..end],
        })
    }

    /// The files, in archive order.
    pub fn files(&self) -> impl Iterator<Item = File<'a>> + '_ {
        // Every entry was validated by `parse`.
        (0..self.count).filter_map(|index| self.entry(index).ok())
    }

    /// The file with this name.
    pub fn find(&self, name: &str) -> Option<File<'a>> {
        self.files().find(|file| file.name == name)
    }
}

/// Builds an archive from `(name, contents)` pairs.
pub fn build(files: &[(&str, &[u8])]) -> Result<Vec<u8>, FormatError> {
    let mut archive = Vec::new();
    archive.extend_from_slice(MAGIC);
    archive.extend_from_slice(&(files.len() as u32).to_le_bytes());
    archive.extend_from_slice(&0u32.to_le_bytes());
    let table_end = HEADER_SIZE + files.len() * ENTRY_SIZE;
    let mut next_offset = table_end.next_multiple_of(DATA_ALIGNMENT);
    for (index, (name, data)) in files.iter().enumerate() {
        if name.is_empty() || name.len() > NAME_MAX || name.contains('\0') {
            return Err(FormatError::BadName);
        }
        if files[..index].iter().any(|(earlier, _)| earlier == name) {
            return Err(FormatError::DuplicateName);
        }
        let mut raw_name = [0u8; NAME_MAX];
        raw_name[..name.len()].copy_from_slice(name.as_bytes());
        archive.extend_from_slice(&raw_name);
        archive.extend_from_slice(&(next_offset as u64).to_le_bytes());
        archive.extend_from_slice(&(data.len() as u64).to_le_bytes());
        next_offset = (next_offset + data.len()).next_multiple_of(DATA_ALIGNMENT);
    }
    for (_, data) in files {
        archive.resize(archive.len().next_multiple_of(DATA_ALIGNMENT), 0);
        archive.extend_from_slice(data);
    }
    Ok(archive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_archives_parse_back() {
        let archive = build(&[
            ("init", b"\x7fELF..."),
            ("manifest", b"root init\n"),
            ("e", b""),
        ])
        .unwrap();
        let parsed = BootFileSystem::parse(&archive).unwrap();
        let names: Vec<&str> = parsed.files().map(|file| file.name).collect();
        assert_eq!(names, ["init", "manifest", "e"]);
        assert_eq!(parsed.find("manifest").unwrap().data, b"root init\n");
        assert_eq!(parsed.find("e").unwrap().data, b"");
        assert!(parsed.find("missing").is_none());
        for file in parsed.files() {
            assert_eq!(file.offset % DATA_ALIGNMENT, 0);
        }
    }

    #[test]
    fn corrupt_archives_are_rejected() {
        let good = build(&[("a", b"xyz")]).unwrap();
        assert_eq!(
            BootFileSystem::parse(&good[..10]).err(),
            Some(FormatError::Truncated)
        );
        let mut bad_magic = good.clone();
        bad_magic[0] = b'X';
        assert_eq!(
            BootFileSystem::parse(&bad_magic).err(),
            Some(FormatError::BadMagic)
        );
        let mut huge_count = good.clone();
        huge_count[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            BootFileSystem::parse(&huge_count).err(),
            Some(FormatError::Truncated)
        );
        let mut past_end = good.clone();
        let size_at = HEADER_SIZE + NAME_MAX + 8;
        past_end[size_at..size_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            BootFileSystem::parse(&past_end).err(),
            Some(FormatError::BadExtent)
        );
        let mut misaligned = good.clone();
        let offset_at = HEADER_SIZE + NAME_MAX;
        misaligned[offset_at..offset_at + 8].copy_from_slice(&1u64.to_le_bytes());
        assert_eq!(
            BootFileSystem::parse(&misaligned).err(),
            Some(FormatError::BadExtent)
        );
        let mut empty_name = good;
        empty_name[HEADER_SIZE] = 0;
        assert_eq!(
            BootFileSystem::parse(&empty_name).err(),
            Some(FormatError::BadName)
        );
    }

    #[test]
    fn builder_rejects_bad_names() {
        assert_eq!(build(&[("", b"")]).err(), Some(FormatError::BadName));
        let long = "x".repeat(NAME_MAX + 1);
        assert_eq!(
            build(&[(long.as_str(), b"")]).err(),
            Some(FormatError::BadName)
        );
        assert_eq!(
            build(&[("a", b""), ("a", b"")]).err(),
            Some(FormatError::DuplicateName)
        );
    }
}
