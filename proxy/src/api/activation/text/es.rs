use super::Text;

pub(in crate::api) static SPANISH: Text = Text {
    activate: |service| format!("Activar {service}"),
    code_label: "El código que muestra tu televisor",
    code_hint: "Letras y números; los guiones y espacios no importan.",
    continue_button: "Continuar",
    code_not_valid: "Ese código no es válido: puede estar mal escrito, ya usado o caducado. \
                     Revisa el código de tu televisor (pídele uno nuevo si hace falta) e \
                     inténtalo de nuevo.",
    languages: "Idioma",

    confirm_title: "¿Es esta tu pantalla?",
    activating: |service, device, code, when| {
        format!("Vas a activar {service} en {device}, que pidió el código {code} {when}.")
    },
    asked: |minutes| match minutes {
        0 => "hace un momento".to_owned(),
        1 => "hace un minuto".to_owned(),
        n => format!("hace {n} minutos"),
    },
    from_here: |network| format!("Lo pidió desde la red {network}, la misma en la que estás."),
    from_elsewhere: |network| {
        format!("Lo pidió desde la red {network}, que no es la red en la que estás.")
    },
    stop_if_sent: "Continúa solo si ese dispositivo está delante de ti mostrando este código. \
                   Si alguien te envió este enlace o código, detente aquí: su dispositivo \
                   vería contenido con tu suscripción.",
    confirm_label: |device, code| format!("Sí, {device} está delante de mí y muestra {code}"),
    providers: "Inicia sesión con tu proveedor de televisión",
    sign_in_with: |provider| format!("Iniciar sesión con {provider}"),
    tick_the_box: "Marca la casilla para confirmar que este dispositivo es el que tienes \
                   delante.",
    device_of_kind: |kind, id| format!("tu {kind} ({id})"),
    device: |id| format!("tu dispositivo {id}"),
    some_device: "tu dispositivo",

    all_set_title: "¡Listo!",
    all_set: |device| {
        format!("{device} ya está activado. Vuelve a tu televisor: empezará en un momento.")
    },
    almost_title: "Ya casi está",
    almost: |device, service| format!("{device} quedará activado en cuanto {service} lo apruebe."),
    another_device: "Activar otro dispositivo",
    wrong_title: "Algo salió mal",
    too_many_title: "Demasiados intentos",
    too_many: |service, seconds| {
        format!(
            "Ha habido demasiados intentos desde tu red o en {service}. Por tu seguridad, \
             espera {seconds} segundos antes de volver a intentarlo."
        )
    },

    session_gone: "Este inicio de sesión no existe o ha caducado: empieza de nuevo desde el \
                   código.",
    no_public_url: "El inicio de sesión de este proveedor no está disponible aquí: la URL \
                    pública de la pasarela no está configurada.",
    from_another_site: "Este inicio de sesión se inició desde otro sitio, así que se ha \
                        detenido. Para activar un dispositivo, abre tú mismo esta página y \
                        escribe el código que muestra tu televisor.",
    not_sent_back: "La página pidió volver a una dirección a la que este servicio no envía a \
                    nadie.",
    provider_unusable: "Ese proveedor de televisión no se puede usar aquí.",
    provider_unreachable: "No se puede contactar con tu proveedor de televisión en este \
                           momento. Inténtalo de nuevo en un instante.",
    provider_refused: |error| format!("Tu proveedor de televisión no inició tu sesión ({error})."),
    answer_unusable: "No se pudo usar la respuesta de tu proveedor de televisión. Empieza de \
                      nuevo desde el código.",
    answer_refused: "No se pudo aceptar la respuesta de tu proveedor de televisión. Empieza de \
                     nuevo desde el código.",
    identity_unusable: "Tu proveedor de televisión te identificó de una forma que este \
                        servicio no puede usar.",
    code_gone: "El código caducó o se usó mientras iniciabas sesión: pide uno nuevo a tu \
                televisor.",
    not_activated: "No se pudo activar el dispositivo. Inténtalo de nuevo en un momento.",
};
