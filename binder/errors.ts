// Errors the binder throws on purpose, told apart by name. They are made rather
// than subclassed: the closure serializer turns `class X extends Error` into a
// function whose `super(message)` call leaves the message behind.

export function namedError<T extends object = object>(name: string, message: string, extra?: T): Error & T {
    return Object.assign(new Error(message), { name }, extra);
}

export function isNamedError(err: unknown, name: string): err is Error {
    return err instanceof Error && err.name === name;
}
