//! `#[decorate(my_decorator)]`: Python's `@my_decorator` for Rust functions.
//!
//! Python's `@my_decorator` above `def f` means `f = my_decorator(f)`. Rust cannot rebind a
//! function, so the attribute rewrites the function's body to pass the original body, as a
//! closure, through the decorator and call what comes back:
//!
//! ```text
//! #[decorate(my_better_decorator)]
//! fn my_adder(x: i64, y: i64) { say!("Sum of x,y is {}", x + y) }
//! // expands to
//! fn my_adder(x: i64, y: i64) {
//!     (my_better_decorator(move |(x, y): (i64, i64)| { say!("Sum of x,y is {}", x + y) }))((x, y))
//! }
//! ```
//!
//! A function without arguments is passed as `move || body` and called with `()`. A function with
//! arguments is passed as a closure over one tuple, the stand-in for Python's `*args`.

use proc_macro::TokenStream;
use quote::quote;
use syn::{FnArg, ItemFn, Pat, Path, parse_macro_input};

/// Wraps the function's body with the decorator named in the attribute (any path to a function
/// that takes a closure and returns a closure).
#[proc_macro_attribute]
pub fn decorate(attr: TokenStream, item: TokenStream) -> TokenStream {
    let decorator = parse_macro_input!(attr as Path);
    let mut function = parse_macro_input!(item as ItemFn);
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

    let new_body = if names.is_empty() {
        quote!({ (#decorator(move || #body))() })
    } else {
        quote!({ (#decorator(move |(#(#patterns,)*): (#(#types,)*)| #body))((#(#names,)*)) })
    };
    *function.block = syn::parse_quote!(#new_body);
    quote!(#function).into()
}
