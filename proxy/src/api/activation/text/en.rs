use super::Text;

pub(in crate::api) static ENGLISH: Text = Text {
    activate: |service| format!("Activate {service}"),
    code_label: "The code shown on your TV",
    code_hint: "Letters and digits; dashes and spaces do not matter.",
    continue_button: "Continue",
    code_not_valid: "That code is not valid: it may be mistyped, used or expired. Check the \
                     code on your TV (ask it for a new one if needed) and try again.",
    languages: "Language",

    confirm_title: "Is this your screen?",
    activating: |service, device, code, when| {
        format!("You are activating {service} on {device}, which asked for the code {code} {when}.")
    },
    asked: |minutes| match minutes {
        0 => "just now".to_owned(),
        1 => "a minute ago".to_owned(),
        n => format!("{n} minutes ago"),
    },
    from_here: |network| format!("It asked from the network {network}, the one you are on now."),
    from_elsewhere: |network| {
        format!("It asked from the network {network}, not the one you are on now.")
    },
    stop_if_sent: "Go on only if that device is in front of you, showing this code. If \
                   someone sent you this link or code, stop here: their device would watch on \
                   your subscription.",
    confirm_label: |device, code| format!("Yes, {device} is in front of me and shows {code}"),
    providers: "Sign in with your TV provider",
    sign_in_with: |provider| format!("Sign in with {provider}"),
    tick_the_box: "Tick the box to confirm that this device is the one in front of you.",
    device_of_kind: |kind, id| format!("your {kind} ({id})"),
    device: |id| format!("your device {id}"),
    some_device: "your device",

    all_set_title: "You're all set",
    all_set: |device| {
        format!("{device} is now activated. Return to your TV: it will start in a moment.")
    },
    almost_title: "Almost there",
    almost: |device, service| {
        format!("{device} will be activated as soon as {service} approves it.")
    },
    another_device: "Activate another device",
    wrong_title: "Something went wrong",
    too_many_title: "Too many attempts",
    too_many: |service, seconds| {
        format!(
            "There have been too many attempts, from your network or on {service}. For your \
             security, wait {seconds} seconds before you try again."
        )
    },

    session_gone: "This sign-in is unknown or has expired: start again from the code.",
    no_public_url: "This TV provider's sign-in is not available here: the gateway's public \
                    URL is not configured.",
    from_another_site: "This sign-in was started from another site, so it was stopped. To \
                        activate a device, open this page yourself and type the code your TV \
                        shows.",
    not_sent_back: "The page asked to return to an address this service does not send people \
                    to.",
    provider_unusable: "That TV provider cannot be used here.",
    provider_unreachable: "Your TV provider cannot be reached right now. Try again in a moment.",
    provider_refused: |error| format!("Your TV provider did not sign you in ({error})."),
    answer_unusable: "Your TV provider's answer could not be used. Start again from the code.",
    answer_refused: "Your TV provider's answer could not be accepted. Start again from the \
                     code.",
    identity_unusable: "Your TV provider identified you in a way this service cannot use.",
    code_gone: "The code expired or was used while you signed in: ask your TV for a new one.",
    not_activated: "The device could not be activated. Try again in a moment.",
};
