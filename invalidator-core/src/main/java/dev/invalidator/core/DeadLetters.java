package dev.invalidator.core;

/** Port: where entries go that cannot be applied. Adding must be durable before it returns. */
public interface DeadLetters {
  void add(DeadLetter deadLetter);
}
