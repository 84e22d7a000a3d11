//! ACLs built by hand and read back through the checks (run under wine by `make test-windows`).
use super::*;
use windows_sys::Win32::Security::Authorization::ConvertStringSidToSidW;
use windows_sys::Win32::Security::GetLengthSid;

/// A SID's bytes (`me` is this user).
fn sid(text: &str) -> Vec<u8> {
    let text = match text {
        "me" => CurrentUser::cached().unwrap().sid_string().unwrap(),
        other => other.to_string(),
    };
    let wide: Vec<u16> = text.encode_utf16().chain(Some(0)).collect();
    let mut psid: PSID = std::ptr::null_mut();
    // SAFETY: a NUL-terminated string; the SID the system allocates is copied, then freed.
    unsafe {
        assert_ne!(ConvertStringSidToSidW(wide.as_ptr(), &mut psid), 0, "{text}");
        let bytes = std::slice::from_raw_parts(psid as *const u8, GetLengthSid(psid) as usize).to_vec();
        LocalFree(psid as _);
        bytes
    }
}

/// An ACL of `entries` (type, flags, access mask, SID), laid out as Windows lays ACEs out:
/// header, mask, (for the object kinds, their flags word), SID. Built by hand so that every
/// kind of entry can be tried, whatever the system's SDDL parser supports.
fn acl(entries: &[(u8, u8, u32, &str)]) -> Vec<u32> {
    let mut aces: Vec<u8> = Vec::new();
    for &(kind, flags, mask, who) in entries {
        let object = matches!(kind, 5 | 6 | 11 | 12);
        let sid = sid(who);
        let size = 4 + 4 + if object { 4 } else { 0 } + sid.len();
        let size = size.next_multiple_of(4);
        let start = aces.len();
        aces.extend([kind, flags]);
        aces.extend((size as u16).to_le_bytes());
        aces.extend(mask.to_le_bytes());
        if object {
            aces.extend(0u32.to_le_bytes());
        }
        aces.extend(&sid);
        aces.resize(start + size, 0);
    }
    let total = 8 + aces.len();
    let mut bytes = vec![4u8, 0];
    bytes.extend((total as u16).to_le_bytes());
    bytes.extend((entries.len() as u16).to_le_bytes());
    bytes.extend([0u8, 0]);
    bytes.extend(aces);
    bytes
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// What `exposure` makes of an owner and an ACL (`None`: no ACL at all).
fn judge(owner: &str, entries: Option<&[(u8, u8, u32, &str)]>, scope: Scope) -> Exposure {
    let mut owner = sid(owner);
    let mut dacl = entries.map(acl);
    let dacl_ptr = dacl
        .as_mut()
        .map_or(std::ptr::null_mut(), |d| d.as_mut_ptr().cast());
    exposure(
        owner.as_mut_ptr().cast(),
        dacl_ptr,
        &Descriptor(std::ptr::null_mut()),
        scope,
    )
    .unwrap()
}

const PRIVATE: Exposure = Exposure {
    foreign_owner: false,
    others_read: false,
    others_write: false,
};
const EVERYONE: &str = "S-1-1-0";
const USERS: &str = "S-1-5-32-545";
const SYSTEM: &str = "S-1-5-18";
const ADMINISTRATORS: &str = "S-1-5-32-544";
const FULL: u32 = 0x001F_01FF;
const READ: u32 = 0x0012_0089;
const WRITE_DAC: u32 = 0x0004_0000;
const OICI: u8 = 0x03;
const INHERIT_ONLY: u8 = 0x08;

/// An ACE as the cases write it: kind, flags, access mask, trustee SID (`me` is this user).
type Ace = (u8, u8, u32, &'static str);

#[test]
fn the_private_acl_is_private_and_loose_ones_are_not() {
    let me_full = (0u8, OICI, FULL, "me");
    let cases: [(&str, Option<&[Ace]>, Exposure); 7] = [
        // What PrivateDescriptor writes.
        (
            "me",
            Some(&[me_full, (0, OICI, FULL, SYSTEM), (0, OICI, FULL, ADMINISTRATORS)]),
            PRIVATE,
        ),
        // Everyone may read: read, not write.
        (
            "me",
            Some(&[me_full, (0, 0, READ, EVERYONE)]),
            Exposure {
                others_read: true,
                ..PRIVATE
            },
        ),
        (
            "me",
            Some(&[me_full, (0, 0, FULL, EVERYONE)]),
            Exposure {
                others_read: true,
                others_write: true,
                ..PRIVATE
            },
        ),
        // WRITE_DAC alone is a way to write: whoever has it can grant themselves the rest.
        (
            "me",
            Some(&[me_full, (0, 0, WRITE_DAC, USERS)]),
            Exposure {
                others_read: true,
                others_write: true,
                ..PRIVATE
            },
        ),
        // Deny entries only take away.
        ("me", Some(&[(1, 0, FULL, EVERYONE), me_full]), PRIVATE),
        // No ACL at all: anyone may do anything.
        (
            "me",
            None,
            Exposure {
                others_read: true,
                others_write: true,
                ..PRIVATE
            },
        ),
        // Owned by someone else; SYSTEM owning is as root owning.
        (
            "S-1-5-21-1-2-3-1001",
            Some(&[me_full]),
            Exposure {
                foreign_owner: true,
                ..PRIVATE
            },
        ),
    ];
    for (owner, entries, expected) in cases {
        assert_eq!(
            judge(owner, entries, Scope::Object),
            expected,
            "{owner} {entries:?}"
        );
    }
    assert_eq!(judge(SYSTEM, Some(&[me_full]), Scope::Object), PRIVATE);
}

#[test]
fn allowing_entries_of_other_kinds_count_as_letting_anyone_in() {
    // Object (5), callback (9) and callback object (11) entries name whom they let in
    // differently: not read, so taken to let anyone do anything. Their deny kinds (6, 10,
    // 12) only take away.
    let everyone = Exposure {
        others_read: true,
        others_write: true,
        ..PRIVATE
    };
    for kind in [5u8, 9, 11] {
        let entries = [(0u8, 0u8, FULL, "me"), (kind, 0, READ, "me")];
        assert_eq!(
            judge("me", Some(&entries), Scope::Object),
            everyone,
            "kind {kind}"
        );
    }
    for kind in [6u8, 10, 12] {
        let entries = [(kind, 0, FULL, EVERYONE), (0u8, 0u8, FULL, "me")];
        assert_eq!(judge("me", Some(&entries), Scope::Object), PRIVATE, "kind {kind}");
    }
}

#[test]
fn entries_for_children_only_count_for_a_directory_s_future_files() {
    let entries = [(0u8, OICI, FULL, "me"), (0, OICI | INHERIT_ONLY, FULL, EVERYONE)];
    assert_eq!(judge("me", Some(&entries), Scope::Object), PRIVATE);
    assert_eq!(
        judge("me", Some(&entries), Scope::WithInherited),
        Exposure {
            others_read: true,
            others_write: true,
            ..PRIVATE
        }
    );
}
