import Foundation
import WarehouseAPI
import WarehouseServer
import WarehouseCore

/// `warehouse token create USER | list [USER] | revoke ID`: manages user tokens directly in
/// the catalog (the admin's command-line counterpart of /auth/tokens).
struct TokenCommand: WarehouseCommand {
    static let name = "token"
    static let abstract = "Create, list or revoke user tokens."
    static let usage = "warehouse token create USER_ID | list [USER_ID] | revoke TOKEN_ID  [--data-dir storage] [--config FILE]"

    enum Action { case create(String), list(String?), revoke(String) }
    let action: Action
    let settings: SettingOptions

    init(arguments: [String]) throws {
        let options = try OptionParser(arguments, options: ["data-dir", "config"])
        settings = SettingOptions(options)
        switch (options.positional.first, options.positional.count) {
        case ("create", 2): action = .create(options.positional[1])
        case ("list", 1): action = .list(nil)
        case ("list", 2): action = .list(options.positional[1])
        case ("revoke", 2): action = .revoke(options.positional[1])
        default: throw UsageError(description: "expected: create USER_ID, list [USER_ID] or revoke TOKEN_ID")
        }
    }

    func run() throws -> Int32 {
        let access = try openWarehouse(settings).access
        switch action {
        case .create(let user):
            let (token, secret) = try access.createToken(for: user)
            say("created \(token.id) for \(token.userID); the secret is shown only now:")
            say(secret)
        case .list(let user):
            for token in try access.tokens(user: user) { say("\(token.id)  \(token.userID)  \(token.createdAt)") }
        case .revoke(let id):
            try access.revokeToken(id: id)
            say("revoked \(id)")
        }
        return 0
    }
}
