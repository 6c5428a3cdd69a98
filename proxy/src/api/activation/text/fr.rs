use super::Text;

pub(in crate::api) static FRENCH: Text = Text {
    activate: |service| format!("Activer {service}"),
    code_label: "Le code affiché sur votre téléviseur",
    code_hint: "Lettres et chiffres ; les tirets et les espaces ne comptent pas.",
    continue_button: "Continuer",
    code_not_valid: "Ce code n'est pas valide : il est peut-être mal saisi, déjà utilisé ou \
                     expiré. Vérifiez le code sur votre téléviseur (demandez-en un nouveau si \
                     besoin) et réessayez.",
    languages: "Langue",

    confirm_title: "Est-ce bien votre écran ?",
    activating: |service, device, code, when| {
        format!("Vous activez {service} sur {device}, qui a demandé le code {code} {when}.")
    },
    asked: |minutes| match minutes {
        0 => "à l'instant".to_owned(),
        1 => "il y a une minute".to_owned(),
        n => format!("il y a {n} minutes"),
    },
    from_here: |network| {
        format!("La demande vient du réseau {network}, celui sur lequel vous êtes.")
    },
    from_elsewhere: |network| {
        format!("La demande vient du réseau {network}, qui n'est pas celui sur lequel vous êtes.")
    },
    stop_if_sent: "Ne continuez que si cet appareil est devant vous et affiche ce code. Si \
                   quelqu'un vous a envoyé ce lien ou ce code, arrêtez-vous ici : son appareil \
                   regarderait avec votre abonnement.",
    confirm_label: |device, code| format!("Oui, {device} est devant moi et affiche {code}"),
    providers: "Connectez-vous avec votre fournisseur de télévision",
    sign_in_with: |provider| format!("Se connecter avec {provider}"),
    tick_the_box: "Cochez la case pour confirmer que cet appareil est celui qui est devant \
                   vous.",
    device_of_kind: |kind, id| format!("votre {kind} ({id})"),
    device: |id| format!("votre appareil {id}"),
    some_device: "votre appareil",

    all_set_title: "C'est prêt",
    all_set: |device| {
        format!(
            "{device} est activé. Retournez à votre téléviseur : il va démarrer dans un instant."
        )
    },
    almost_title: "Presque terminé",
    almost: |device, service| format!("{device} sera activé dès que {service} l'aura approuvé."),
    another_device: "Activer un autre appareil",
    wrong_title: "Un problème est survenu",
    too_many_title: "Trop de tentatives",
    too_many: |service, seconds| {
        format!(
            "Il y a eu trop de tentatives depuis votre réseau ou sur {service}. Pour votre \
             sécurité, attendez {seconds} secondes avant de réessayer."
        )
    },

    session_gone: "Cette connexion est inconnue ou a expiré : recommencez à partir du code.",
    no_public_url: "La connexion de ce fournisseur n'est pas disponible ici : l'URL publique \
                    de la passerelle n'est pas configurée.",
    from_another_site: "Cette connexion a été lancée depuis un autre site, elle a donc été \
                        arrêtée. Pour activer un appareil, ouvrez vous-même cette page et \
                        saisissez le code affiché sur votre téléviseur.",
    not_sent_back: "La page demandait à revenir vers une adresse où ce service n'envoie \
                    personne.",
    provider_unusable: "Ce fournisseur de télévision ne peut pas être utilisé ici.",
    provider_unreachable: "Votre fournisseur de télévision est injoignable pour le moment. \
                           Réessayez dans un instant.",
    provider_refused: |error| {
        format!("Votre fournisseur de télévision ne vous a pas connecté ({error}).")
    },
    answer_unusable: "La réponse de votre fournisseur de télévision est inutilisable. \
                      Recommencez à partir du code.",
    answer_refused: "La réponse de votre fournisseur de télévision n'a pas pu être acceptée. \
                     Recommencez à partir du code.",
    identity_unusable: "Votre fournisseur de télévision vous a identifié d'une façon que ce \
                        service ne peut pas utiliser.",
    code_gone: "Le code a expiré ou a été utilisé pendant votre connexion : demandez-en un \
                nouveau à votre téléviseur.",
    not_activated: "L'appareil n'a pas pu être activé. Réessayez dans un instant.",
};
