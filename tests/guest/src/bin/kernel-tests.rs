//! The kernel test suite, run as the root program. With no arguments it runs every in-process
//! case; `fault <kind>` provokes one exception instead; `broken-case` adds a failing case and
//! `hang` spins forever, to show that the harness catches both; `only <text>` runs just the
//! cases whose names contain the text and `seed <hex>` replays the fuzzer with another seed (to
//! chase one case by hand with `cargo xtask run`).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use guest::{cases, faults, run_cases};
use runtime::println;

fn main(arguments: &str) -> i32 {
    let mut words = arguments.split_ascii_whitespace();
    if let Some("fault") = words.clone().next() {
        words.next();
        let kind = words.next().unwrap_or("");
        faults::provoke(kind);
        println!("kernel-tests: unknown fault kind {kind:?}");
        return 2;
    }
    let mut broken = false;
    let mut only = "";
    while let Some(word) = words.next() {
        match word {
            "broken-case" => broken = true,
            "only" => only = words.next().unwrap_or(""),
            "seed" => {
                let text = words.next().unwrap_or("");
                match u64::from_str_radix(text.trim_start_matches("0x"), 16) {
                    Ok(seed) => cases::set_fuzz_seed(seed),
                    Err(_) => {
                        println!("kernel-tests: `seed` wants a hexadecimal number, not {text:?}");
                        return 2;
                    }
                }
            }
            "hang" => {
                println!("kernel-tests: hanging on purpose");
                #[allow(clippy::empty_loop)]
                loop {}
            }
            other => {
                println!("kernel-tests: unknown argument {other:?}");
                return 2;
            }
        }
    }
    faults::list();
    let all = cases::ALL
        .iter()
        .flat_map(|group| group.iter())
        .filter(|case| case.name.contains(only));
    let failed = run_cases(all.chain(broken.then_some(&cases::DELIBERATELY_BROKEN)));
    if failed == 0 { 0 } else { 1 }
}

runtime::main!(main);
