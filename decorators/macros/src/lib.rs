//! `#[decorate(my_decorator)]`: Python's `@my_decorator` for Rust functions.
//!
//! Python's `@my_decorator` above `def f` means `f = my_decorator(f)`, run once, when `def`
//! runs; every call then goes to what the decorator returned, so a decorator with state (a call
//! counter, `functools.cache`) keeps it from call to call. Rust cannot rebind a function, so the
//! attribute rewrites its body: the first call applies the decorator to the original body (a
//! closure) and keeps what comes back in a `static`; every call, that one too, calls it:
//!
//! ```text
//! #[decorate(my_better_decorator)]
//! fn my_adder(x: i64, y: i64) { say!("Sum of x,y is {}", x + y) }
//! // expands to
//! fn my_adder(x: i64, y: i64) {
//!     static DECORATED: LazyLock<Box<dyn Fn((i64, i64)) -> () + Send + Sync>> =
//!         LazyLock::new(|| Box::new(my_better_decorator(|(x, y): (i64, i64)| { say!(...) })));
//!     (*DECORATED)((x, y))
//! }
//! ```
//!
//! Why a process-wide `static` (a `LazyLock`: a `OnceLock` whose initializer is written where it
//! is declared) and not a `thread_local!`: Python's decorated function is one object that every
//! thread calls, so its state counts every thread's calls; a `thread_local!` would apply the
//! decorator once per thread, each with its own counter. A static shared by threads must be
//! `Sync`, so the closure the decorator returns must be `Send + Sync` (state in an atomic or a
//! `Mutex`, not a `Cell`), and `'static` (it borrows nothing). Two differences from Python
//! remain: the decorator runs at the first call, not at definition (Rust runs no code when a
//! module loads), and a generic function cannot be decorated (a `static` cannot depend on the
//! function's type parameters: each instantiation would need its own).
//!
//! A function without arguments is passed as `|| body` and called with `()`. A function with
//! arguments is passed as a closure over one tuple, the stand-in for Python's `*args`.

use proc_macro::TokenStream;
use quote::quote;
use syn::{FnArg, ItemFn, Pat, Path, ReturnType, parse_macro_input};

/// Wraps the function's body with the decorator named in the attribute (any path to a function
/// that takes a closure and returns a closure), applied once, at the first call.
#[proc_macro_attribute]
pub fn decorate(attr: TokenStream, item: TokenStream) -> TokenStream {
    let decorator = parse_macro_input!(attr as Path);
    let mut function = parse_macro_input!(item as ItemFn);
    if !function.sig.generics.params.is_empty() {
        let message = "#[decorate] keeps the decorated function in a static, which cannot depend \
                       on the function's generic parameters: decorate a non-generic function";
        return syn::Error::new_spanned(&function.sig.generics, message).to_compile_error().into();
    }
    let body = function.block.clone();

    let mut patterns = Vec::new();
    let mut types = Vec::new();
    let mut names = Vec::new();
    for (i, input) in function.sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(arg) = input else {
            let message = "#[decorate] takes free functions, not methods";
            return syn::Error::new_spanned(input, message).to_compile_error().into();
        };
        // A plain name is passed by that name; any other pattern is bound to a fresh one.
        let name = match &*arg.pat {
            Pat::Ident(ident) if ident.subpat.is_none() => ident.ident.clone(),
            _ => quote::format_ident!("__decorate_arg{i}"),
        };
        patterns.push(arg.pat.clone());
        types.push(arg.ty.clone());
        names.push(name.clone());
        *arg.pat = syn::parse_quote!(#name);
    }
    let output = match &function.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };

    // `(A,)` for one argument, `(A, B)` for two; none: a closure of no arguments, called with ().
    let (signature, undecorated, call) = if names.is_empty() {
        (quote!(dyn Fn() -> #output), quote!(|| #body), quote!(()))
    } else {
        (
            quote!(dyn Fn((#(#types,)*)) -> #output),
            quote!(|(#(#patterns,)*): (#(#types,)*)| #body),
            quote!(((#(#names,)*))),
        )
    };
    let new_body = quote!({
        // `f = decorator(f)`, once: the first call applies it, every call uses what it returned.
        static DECORATED: ::std::sync::LazyLock<
            ::std::boxed::Box<#signature + ::std::marker::Send + ::std::marker::Sync>,
        > = ::std::sync::LazyLock::new(|| ::std::boxed::Box::new(#decorator(#undecorated)));
        (*DECORATED)#call
    });
    *function.block = syn::parse_quote!(#new_body);
    quote!(#function).into()
}
