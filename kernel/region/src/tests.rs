//! Host tests of the region arithmetic, with properties checked over random inputs.

extern crate std;
use super::*;
use proptest::prelude::*;

const PAGES: u64 = 1 << 20;

fn range(start_page: u64, pages: u64) -> PageRange {
    PageRange::new(NULL_GUARD_END + start_page * PAGE_SIZE, pages * PAGE_SIZE).unwrap()
}

fn rights(bits: u64) -> MemoryRights {
    MemoryRights::from_bits_truncate(bits)
}

#[test]
fn ranges_are_checked() {
    let page = NULL_GUARD_END;
    assert_eq!(
        PageRange::new(page + 1, PAGE_SIZE),
        Err(Error::InvalidArgument)
    );
    assert_eq!(PageRange::new(page, 100), Err(Error::InvalidArgument));
    assert_eq!(PageRange::new(page, 0), Err(Error::InvalidArgument));
    assert_eq!(PageRange::new(0, PAGE_SIZE), Err(Error::BadAddress));
    assert_eq!(
        PageRange::new(USER_ADDRESS_LIMIT - PAGE_SIZE, 2 * PAGE_SIZE),
        Err(Error::BadAddress)
    );
    assert_eq!(
        PageRange::new(0xffff_8000_0000_0000, PAGE_SIZE),
        Err(Error::BadAddress)
    );
    assert_eq!(
        PageRange::new(!(PAGE_SIZE - 1), 2 * PAGE_SIZE),
        Err(Error::BadAddress)
    );
    assert!(PageRange::new(USER_ADDRESS_LIMIT - PAGE_SIZE, PAGE_SIZE).is_ok());
}

#[test]
fn windows_stay_inside_their_region_and_never_widen_rights() {
    let region = range(10, 4);
    let read_write = MemoryRights::READ | MemoryRights::WRITE;
    let window = |offset, pages, wanted| {
        Window::new(
            range(100, 1).start(),
            pages * PAGE_SIZE,
            region,
            read_write,
            offset * PAGE_SIZE,
            wanted,
        )
    };
    assert!(window(0, 4, read_write).is_ok());
    assert!(window(3, 1, MemoryRights::READ).is_ok());
    assert_eq!(
        window(3, 2, MemoryRights::READ),
        Err(Error::InvalidArgument)
    );
    assert_eq!(
        window(4, 1, MemoryRights::READ),
        Err(Error::InvalidArgument)
    );
    assert_eq!(
        window(0, 1, MemoryRights::READ | MemoryRights::EXECUTE),
        Err(Error::MissingRights)
    );
    assert_eq!(
        Window::new(
            range(100, 1).start(),
            PAGE_SIZE,
            region,
            read_write,
            5,
            read_write
        ),
        Err(Error::InvalidArgument)
    );
}

#[test]
fn a_chain_allows_only_what_every_link_allows() {
    let all = MemoryRights::all();
    assert!(chain_allows([all, MemoryRights::READ], MemoryRights::READ));
    assert!(!chain_allows(
        [all, MemoryRights::READ],
        MemoryRights::WRITE
    ));
    assert!(chain_allows([], MemoryRights::WRITE));
}

proptest! {
    #[test]
    fn source_addresses_stay_in_the_window_and_keep_their_page_offset(
        region_start in 0..PAGES, region_pages in 1..512u64,
        offset_pick in 0..u64::MAX, pages_pick in 0..u64::MAX,
        address_start in 0..PAGES, pick in 0..u64::MAX,
    ) {
        let offset_pages = offset_pick % region_pages;
        let pages = 1 + pages_pick % (region_pages - offset_pages);
        let region = range(region_start, region_pages);
        let window = Window::new(
            range(address_start, 1).start(), pages * PAGE_SIZE, region,
            MemoryRights::all(), offset_pages * PAGE_SIZE, MemoryRights::READ,
        ).unwrap();
        let address = window.range.start() + pick % window.range.size();
        let source = window.source_of(address);
        prop_assert!(region.contains(source));
        prop_assert!(window.source_range().contains(source));
        prop_assert_eq!(source % PAGE_SIZE, address % PAGE_SIZE);
    }

    #[test]
    fn the_affected_part_is_exactly_the_pages_whose_source_changed(
        region_pages in 1..64u64, offset_pick in 0..u64::MAX, pages_pick in 0..u64::MAX,
        changed_start in 0..80u64, changed_pages in 1..80u64,
    ) {
        let offset_pages = offset_pick % region_pages;
        let pages = 1 + pages_pick % (region_pages - offset_pages);
        let region = range(1000, region_pages);
        let window = Window::new(
            range(5000, 1).start(), pages * PAGE_SIZE, region, MemoryRights::all(),
            offset_pages * PAGE_SIZE, MemoryRights::all(),
        ).unwrap();
        let changed = range(1000 + changed_start, changed_pages);
        let affected = window.affected_by(&changed);
        for page in window.range.pages() {
            let hit = changed.contains(window.source_of(page));
            prop_assert_eq!(hit, affected.is_some_and(|affected| affected.contains(page)));
        }
    }

    #[test]
    fn intersection_is_the_common_part(
        a_start in 0..200u64, a_pages in 1..100u64, b_start in 0..200u64, b_pages in 1..100u64,
    ) {
        let (a, b) = (range(a_start, a_pages), range(b_start, b_pages));
        prop_assert_eq!(a.overlaps(&b), a.intersection(&b).is_some());
        for page in a.pages().chain(b.pages()) {
            let both = a.contains(page) && b.contains(page);
            prop_assert_eq!(both, a.intersection(&b).is_some_and(|common| common.contains(page)));
        }
    }

    #[test]
    fn rights_narrow_along_any_chain(links in proptest::collection::vec(0..8u64, 0..6), needed in 0..8u64) {
        let grants: std::vec::Vec<_> = links.iter().map(|&bits| rights(bits)).collect();
        let narrowed = grants.iter().fold(MemoryRights::all(), |acc, &grant| acc & grant);
        prop_assert_eq!(chain_allows(grants.iter().copied(), rights(needed)), narrowed.contains(rights(needed)));
    }
}

#[test]
fn a_range_splits_at_a_page_into_the_parts_before_and_after() {
    let range = PageRange::new(0x10000, 0x4000).unwrap();
    let (before, after) = range.split_at(0x12000);
    assert_eq!(before, Some(PageRange::new(0x10000, 0x2000).unwrap()));
    assert_eq!(after, Some(PageRange::new(0x12000, 0x2000).unwrap()));
    assert_eq!(range.split_at(0x10000), (None, Some(range)));
    assert_eq!(range.split_at(0x14000), (Some(range), None));
    assert_eq!(range.split_at(0x1000), (None, Some(range)));
    assert_eq!(range.split_at(u64::MAX), (Some(range), None));
}

#[test]
fn a_range_without_another_keeps_the_parts_outside_it() {
    let range = PageRange::new(0x100000, 0x4000).unwrap();
    let page = |start, pages: u64| Some(PageRange::new(start, pages * 0x1000).unwrap());
    // A hole in the middle leaves both ends.
    let middle = PageRange::new(0x101000, 0x1000).unwrap();
    assert_eq!(
        range.without(&middle),
        [page(0x100000, 1), page(0x102000, 2)]
    );
    // Overlapping either end leaves the other.
    let below = PageRange::new(0xfe000, 0x3000).unwrap();
    assert_eq!(range.without(&below), [None, page(0x101000, 3)]);
    let above = PageRange::new(0x103000, 0x5000).unwrap();
    assert_eq!(range.without(&above), [page(0x100000, 3), None]);
    // Apart, the whole range stays, once; covered, nothing does.
    let apart = PageRange::new(0x200000, 0x1000).unwrap();
    assert_eq!(range.without(&apart), [Some(range), None]);
    let lower = PageRange::new(0x80000, 0x1000).unwrap();
    assert_eq!(range.without(&lower), [None, Some(range)]);
    let cover = PageRange::new(0xff000, 0x6000).unwrap();
    assert_eq!(range.without(&cover), [None, None]);
    assert_eq!(range.without(&range), [None, None]);
}
