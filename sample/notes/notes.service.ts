import { Injectable } from '@nestjs/common';

export interface Note {
  id: number;
  text: string;
  /** Who wrote it: the token's `sub` (a user id, or the client id for client-credentials tokens). */
  author: string;
  createdAt: string;
}

/** In-memory notes: the sample has no database, data is lost on restart. */
@Injectable()
export class NotesService {
  private readonly notes: Note[] = [
    {
      id: 1,
      text: 'Welcome! This note was created at startup.',
      author: 'sample',
      createdAt: new Date().toISOString(),
    },
  ];
  private nextId = 2;

  list(): Note[] {
    return [...this.notes];
  }

  find(id: number): Note | undefined {
    return this.notes.find((note) => note.id === id);
  }

  /** Whether a note was there to delete. */
  delete(id: number): boolean {
    const index = this.notes.findIndex((note) => note.id === id);
    if (index >= 0) this.notes.splice(index, 1);
    return index >= 0;
  }

  /** How many notes each author wrote. */
  stats(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const note of this.notes) counts[note.author] = (counts[note.author] ?? 0) + 1;
    return counts;
  }

  create(text: string, author: string): Note {
    const note: Note = { id: this.nextId++, text, author, createdAt: new Date().toISOString() };
    this.notes.push(note);
    return note;
  }
}
