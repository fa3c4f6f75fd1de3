//! A misuse panic points at the caller's line, not into selvedge: the
//! public functions that panic on misuse are `#[track_caller]`.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;

use selvedge::{run, spawn, Handle, Runtime};

/// Runs `f`, which must panic, and returns the file and line the panic
/// was reported at. The panic hook is the process's: one test at a time.
fn panic_site(f: impl FnOnce()) -> (String, u32) {
    static HOOK: Mutex<()> = Mutex::new(());
    static SITE: Mutex<Option<(String, u32)>> = Mutex::new(None);
    let _one = HOOK.lock().unwrap_or_else(|e| e.into_inner());
    // selvedge installs its hook as the first runtime is built; this one
    // goes in front of it for the test.
    drop(Runtime::builder().build().unwrap());
    let previous = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        if let Some(at) = info.location() {
            let mut site = SITE.lock().unwrap_or_else(|e| e.into_inner());
            site.get_or_insert((at.file().to_owned(), at.line()));
        }
    }));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(previous);
    assert!(result.is_err(), "expected a panic");
    let site = SITE.lock().unwrap_or_else(|e| e.into_inner()).take();
    site.expect("the panic hook saw a location")
}

#[test]
fn spawn_outside_a_runtime_points_at_the_spawn() {
    let line = line!() + 1;
    let site = panic_site(|| drop(spawn(|| ())));
    assert_eq!(site, (file!().to_owned(), line));
}

#[test]
fn a_builder_spawn_outside_a_runtime_points_at_the_spawn() {
    let line = line!() + 1;
    let site = panic_site(|| drop(selvedge::fiber::Builder::new().spawn(|| ())));
    assert_eq!(site, (file!().to_owned(), line));
}

#[test]
fn handle_current_outside_a_runtime_points_at_the_call() {
    let line = line!() + 1;
    let site = panic_site(|| drop(Handle::current()));
    assert_eq!(site, (file!().to_owned(), line));
}

#[test]
fn run_inside_a_fiber_points_at_the_inner_run() {
    let mut line = 0;
    let site = panic_site(|| {
        run(|| {
            line = line!() + 1;
            run(|| ());
        })
    });
    assert_eq!(site, (file!().to_owned(), line));
}

#[test]
fn handle_spawn_on_a_stopped_runtime_points_at_the_spawn() {
    let rt = Runtime::builder().build().unwrap();
    let handle = rt.handle();
    let line = line!() + 1;
    let site = panic_site(|| drop(handle.spawn(|| ())));
    assert_eq!(site, (file!().to_owned(), line));
}

#[test]
fn a_join_after_join_op_took_the_result_points_at_the_join() {
    let mut line = 0;
    let site = panic_site(|| {
        run(|| {
            let mut fiber = spawn(|| 1);
            assert_eq!(selvedge::Op::perform(fiber.join_op()).unwrap(), 1);
            line = line!() + 1;
            let _ = fiber.join();
        })
    });
    assert_eq!(site, (file!().to_owned(), line));
}
